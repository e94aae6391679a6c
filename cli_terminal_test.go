package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"accountd/db/dbtest"
)

// runMainEnv makes the test binary run main instead of the tests, so a
// test can start the command as a process of its own — on a terminal.
const runMainEnv = "ACCOUNTD_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		os.Args = append([]string{"accountd"}, strings.Fields(os.Getenv(runMainEnv+"_ARGS"))...)
		main()
		return
	}
	os.Exit(m.Run())
}

// TestSetPasswordPromptsOnATerminal: without --password-stdin, set-password
// asks twice on the terminal, without echo, and refuses two different
// answers. util-linux's script(1) gives the command a pseudo-terminal.
func TestSetPasswordPromptsOnATerminal(t *testing.T) {
	t.Parallel()
	scriptBin, err := exec.LookPath("script")
	if err != nil {
		t.Skip("script(1) is not installed")
	}
	url := dbtest.Engines(t)[0].URL
	cliOn(t, url, "the first password\n", "user", "create", "--username", "tty_user", "--email", "tty@example.com", "--password-stdin").
		want(t, 0, "created user tty_user", "")

	// prompt answers each question once it is asked, as a person would:
	// input typed before the command turns echo off would be echoed by the
	// terminal, not by the command.
	prompt := func(first, second string) (string, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, scriptBin, "-qec", os.Args[0]+" -test.run=^$", "/dev/null")
		cmd.Env = append(os.Environ(), runMainEnv+"=1", runMainEnv+"_ARGS=user set-password tty_user", "DATABASE_URL="+url)
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = pw, pw
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pw.Close()
		var out bytes.Buffer
		buf := make([]byte, 256)
		waitFor := func(s string) {
			for !strings.Contains(out.String(), s) {
				n, err := pr.Read(buf)
				out.Write(buf[:n])
				if err != nil {
					return
				}
			}
		}
		waitFor("New password:")
		io.WriteString(stdin, first+"\n") //nolint:errcheck // the output tells
		waitFor("Repeat it:")
		io.WriteString(stdin, second+"\n") //nolint:errcheck // the output tells
		rest, _ := io.ReadAll(pr)
		out.Write(rest)
		stdin.Close()
		return out.String(), cmd.Wait()
	}

	out, err := prompt("one password", "another one")
	if err == nil || !strings.Contains(out, "the two passwords differ") {
		t.Fatalf("two different answers: %v\n%s", err, out)
	}
	out, err = prompt("typed on a tty", "typed on a tty")
	if err != nil || !strings.Contains(out, "New password:") || !strings.Contains(out, "Repeat it:") || !strings.Contains(out, "password set for tty_user") {
		t.Fatalf("set-password on a terminal: %v\n%s", err, out)
	}
	if strings.Contains(out, "typed on a tty") {
		t.Errorf("the password was echoed:\n%s", out)
	}
	a := cliApp(t, url)
	if _, err := signIn(t, a, "tty_user", "typed on a tty"); err != nil {
		t.Errorf("the password typed on the terminal does not sign in: %v", err)
	}
}
