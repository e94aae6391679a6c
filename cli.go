package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// usageError is a command line the command cannot run: an unknown command,
// flag or argument, or a missing one. It exits with exitUsage and prints
// the command's usage.
type usageError struct {
	msg   string
	usage string
}

func (e *usageError) Error() string {
	if e.msg == "" {
		return e.usage
	}
	return e.msg
}

// errHelp is returned by parseArgs after it printed a command's help for
// -h: the command then does nothing and exits 0.
var errHelp = errors.New("help requested")

// parseArgs parses args with the flags the flags functions define, flags
// and positional arguments in any order, and returns the positional ones,
// which must number exactly nargs. -h prints usage and the flags to stdout
// and returns errHelp, which run treats as done.
func parseArgs(e *env, name, usage string, args []string, nargs int, flags ...func(*flag.FlagSet)) ([]string, error) {
	return parseArgsRange(e, name, usage, args, nargs, nargs, flags...)
}

// parseArgsRange is parseArgs for a command taking from least to most
// positional arguments.
func parseArgsRange(e *env, name, usage string, args []string, least, most int, flags ...func(*flag.FlagSet)) ([]string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	for _, f := range flags {
		f(fs)
	}
	var pos []string
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(e.io.out, usage)
			if hasFlags(fs) {
				fmt.Fprintln(e.io.out, "\nflags:")
				fs.SetOutput(e.io.out)
				fs.PrintDefaults()
			}
			return nil, errHelp
		}
		if err != nil {
			return nil, &usageError{msg: err.Error(), usage: usage}
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		if args[0] == "--" {
			pos = append(pos, args[1:]...)
			break
		}
		pos, args = append(pos, args[0]), args[1:]
	}
	switch {
	case len(pos) > most:
		return nil, &usageError{msg: fmt.Sprintf("unexpected argument %q", pos[most]), usage: usage}
	case len(pos) < least:
		return nil, &usageError{msg: "missing argument", usage: usage}
	}
	return pos, nil
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// readPassword reads a new password: from stdin's first line with
// fromStdin (for scripts: `… --password-stdin < file`), else from a prompt
// on the terminal without echo, asked twice. It never takes the password
// from the command line, where `ps` and the shell's history would keep it.
func readPassword(e *env, fromStdin bool) (string, error) {
	if fromStdin {
		line, err := bufio.NewReader(e.io.in).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read the password from stdin: %w", err)
		}
		pw := strings.TrimRight(line, "\r\n")
		if pw == "" {
			return "", errors.New("no password on stdin")
		}
		return pw, nil
	}
	f, ok := e.io.in.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", errors.New("stdin is not a terminal to prompt on: pass the password on stdin with --password-stdin")
	}
	fd := int(f.Fd())
	fmt.Fprint(e.io.err, "New password: ")
	first, err := term.ReadPassword(fd)
	fmt.Fprintln(e.io.err)
	if err != nil {
		return "", fmt.Errorf("read the password: %w", err)
	}
	fmt.Fprint(e.io.err, "Repeat it: ")
	second, err := term.ReadPassword(fd)
	fmt.Fprintln(e.io.err)
	if err != nil {
		return "", fmt.Errorf("read the password: %w", err)
	}
	if string(first) != string(second) {
		return "", errors.New("the two passwords differ")
	}
	return string(first), nil
}

// confirm asks a yes/no question on stderr and reads the answer from
// stdin; anything but "y" or "yes" is no.
func confirm(e *env, question string) bool {
	fmt.Fprintf(e.io.err, "%s [y/N] ", question)
	line, _ := bufio.NewReader(e.io.in).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true
	}
	return false
}
