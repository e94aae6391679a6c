package main

import (
	"fmt"
	"os"
	"os/exec"
)

// pgControl stops and starts the throwaway PostgreSQL cluster with pg_ctl,
// as its owner (pg_ctl refuses to run as root).
type pgControl struct {
	pgCtl, data, log string
	user             string // run pg_ctl as this user; "" for ourselves
	out              *os.File
}

func (p pgControl) run(args ...string) error {
	name, argv := p.pgCtl, append([]string{"-D", p.data}, args...)
	if p.user != "" {
		name, argv = "runuser", append([]string{"-u", p.user, "--", p.pgCtl}, argv...)
	}
	cmd := exec.Command(name, argv...)
	// A file, not a pipe: the postmaster pg_ctl leaves behind would keep
	// a pipe open and Wait would never return.
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("pg_ctl %v: %w", args, err)
	}
	return nil
}

// stop shuts the cluster down in mode (fast: roll back and disconnect
// every session; immediate: kill everything, crash recovery on start) and
// waits until it is down.
func (p pgControl) stop(mode string) error { return p.run("-m", mode, "-w", "stop") }

// start starts it again and waits until it accepts connections.
func (p pgControl) start() error { return p.run("-l", p.log, "-w", "-t", "60", "start") }
