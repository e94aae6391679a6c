// Package graphiql serves the GraphiQL playground: the page at /graphiql and
// its JavaScript and CSS under /graphiql/assets/.
//
// The assets are embedded in the binary (scripts/fetch-graphiql.sh fetches
// them at pinned versions and checks their integrity), so the playground
// works on a machine with no internet access and a compromised CDN cannot
// run code next to a signed-in session. The page is served under a
// Content-Security-Policy that lets it load scripts and styles only from
// this server and send requests only to this server.
package graphiql
