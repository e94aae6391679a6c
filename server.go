// Command accountd is the account server of a game-server panel: a GraphQL
// API with a REST layer compatible with the Calagopus panel's
// /api/client/account paths.
//
// Usage:
//
//	accountd [serve]          run the server (the default)
//	accountd migrate          apply database migrations and exit
//	accountd user …           operators' tools for accounts (accountd user -h)
//	accountd backup …         a consistent copy of the SQLite database
//	accountd copy …           move every table from one database to another
//
// Configuration comes from the environment; see README.md. Output goes to
// stdout, logs to stderr; the exit code is 0 when done, 1 on an error and
// 2 on a usage error.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"accountd/app"
	"accountd/db"
	"accountd/model"
)

// Exit codes of the command.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

func main() {
	logs := newLogBuffer(os.Stderr, logFlushEvery)
	err := run(context.Background(), os.Args[1:], os.Getenv, stdio{in: os.Stdin, out: os.Stdout, err: logs})
	logs.Close() //nolint:errcheck // nowhere left to report it
	os.Exit(report(err, os.Stderr))
}

// stdio is the command's standard streams, passed in so tests can drive
// it. in may be a terminal, which set-password prompts on.
type stdio struct {
	in       io.Reader
	out, err io.Writer
}

// report writes err where it belongs and returns the exit code for it.
func report(err error, stderr io.Writer) int {
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, errHelp):
		return exitOK
	case errors.As(err, &ue):
		if ue.msg != "" {
			fmt.Fprintln(stderr, "error:", ue.msg)
		}
		fmt.Fprintln(stderr, ue.usage)
		return exitUsage
	}
	fmt.Fprintln(stderr, "error:", errorText(err))
	return exitError
}

// errorText is err for an operator: a refusal of the service as the API
// words it ("user not found", "password: length is lower than 8"), any
// other error in full, cause included.
func errorText(err error) string {
	var me *model.Error
	if errors.As(err, &me) && me.Code != model.CodeInternal {
		return strings.Join(me.Messages(), "; ")
	}
	return err.Error()
}

// run is main with its dependencies passed in, so tests can drive it.
func run(ctx context.Context, args []string, getenv func(string) string, io stdio) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "help", "-h", "-help", "--help":
		fmt.Fprintln(io.out, topUsage)
		return nil
	}
	c := command(cmd)
	if c == nil {
		return &usageError{msg: fmt.Sprintf("unknown command %q", cmd), usage: topUsage}
	}
	cfg, err := app.LoadConfig(getenv)
	if err != nil {
		return err
	}
	logCfg := *cfg
	if cmd != "serve" {
		// A command's output is what it prints; its log says only what
		// went wrong, not the start-up chatter a server's log keeps.
		logCfg.LogLevel = max(logCfg.LogLevel, slog.LevelWarn)
	}
	return c(ctx, &env{cfg: cfg, log: newLogger(&logCfg, io.err), io: io}, args)
}

// topUsage lists the commands.
const topUsage = `usage: accountd [command]

commands:
  serve      run the server (the default)
  migrate    apply database migrations and exit
  user       operators' tools for accounts (accountd user -h)
  backup     a consistent copy of the SQLite database (accountd backup -h)
  copy       move every table from one database to another (accountd copy -h)

Configuration comes from the environment (see README.md).`

// env is what every command runs with.
type env struct {
	cfg *app.Config
	log *slog.Logger
	io  stdio
}

// commandFunc runs one top-level command with the arguments after its name.
type commandFunc func(ctx context.Context, e *env, args []string) error

// command returns the top-level command of that name, or nil.
func command(name string) commandFunc {
	switch name {
	case "serve":
		return serveCommand
	case "migrate":
		return migrateCommand
	case "user":
		return userCommand
	case "backup":
		return backupCommand
	case "copy":
		return copyCommand
	}
	return nil
}

func serveCommand(ctx context.Context, e *env, args []string) error {
	if _, err := parseArgs(e, "serve", "usage: accountd serve", args, 0); err != nil {
		return err
	}
	return serve(ctx, e.cfg, e.log)
}

func newLogger(cfg *app.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func migrateCommand(ctx context.Context, e *env, args []string) error {
	if _, err := parseArgs(e, "migrate", "usage: accountd migrate", args, 0); err != nil {
		return err
	}
	d, err := db.Open(ctx, e.cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer d.Close()
	applied, err := d.Migrate(ctx)
	if err != nil {
		// Named as at start-up: which variable, which right is missing.
		return d.Explain(err)
	}
	if len(applied) == 0 {
		fmt.Fprintln(e.io.out, "database is up to date")
	}
	for _, v := range applied {
		fmt.Fprintln(e.io.out, "applied", v)
	}
	return nil
}
