// Package web holds the HTTP plumbing shared by the GraphQL endpoint and the
// REST shim: request ids, client-IP resolution, body limits, panic recovery,
// access logging and the one table that turns model error codes into HTTP
// statuses and {"errors": [...]} bodies.
//
// The middlewares are meant to be stacked outermost first as
//
//	RequestID → ClientIP.Middleware → AccessLog → Recover → LimitBody → routes
//
// so that every log line carries the request id and client IP, the access
// log records the 500 that Recover writes for a panic, and no handler reads
// more than the body cap.
package web
