package main

import (
	"context"
	"flag"
	"fmt"

	"accountd/account"
	"accountd/app"
)

const userUsage = `usage: accountd user <command> [flags]

commands:
  create        create an account (accountd user create -h)
  disable-2fa   turn two-factor authentication off for a user who lost both codes`

func userCommand(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return &usageError{msg: "missing user command", usage: userUsage}
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(e.io.out, userUsage)
		return errHelp
	case "create":
		return userCreate(ctx, e, args[1:])
	case "disable-2fa":
		return userDisableTwoFactor(ctx, e, args[1:])
	}
	return &usageError{msg: fmt.Sprintf("unknown user command %q", args[0]), usage: userUsage}
}

func userCreate(ctx context.Context, e *env, args []string) error {
	const usage = "usage: accountd user create --username U --email E --password P [--name-first F] [--name-last L] [--admin]"
	var in account.CreateUserInput
	_, err := parseArgs(e, "user create", usage, args, 0, func(fs *flag.FlagSet) {
		fs.StringVar(&in.Username, "username", "", "username (3–15 characters, letters, digits, _)")
		fs.StringVar(&in.Email, "email", "", "e-mail address")
		fs.StringVar(&in.Password, "password", "", "password (8–512 characters)")
		fs.StringVar(&in.NameFirst, "name-first", "", "first name (defaults to the username)")
		fs.StringVar(&in.NameLast, "name-last", "", "last name (defaults to the username)")
		fs.BoolVar(&in.Admin, "admin", false, "make the user an administrator")
	})
	if err != nil {
		return err
	}
	if in.NameFirst == "" {
		in.NameFirst = in.Username
	}
	if in.NameLast == "" {
		in.NameLast = in.Username
	}
	a, err := app.New(ctx, e.cfg, e.log)
	if err != nil {
		return err
	}
	defer a.Close()
	u, err := a.Service.CreateUser(ctx, in)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.io.out, "created user %s (%s), admin=%v\n", u.Username, u.ID, u.Admin)
	return nil
}

// userDisableTwoFactor is the operator's way back in for a user who lost
// both the authenticator and the recovery codes.
func userDisableTwoFactor(ctx context.Context, e *env, args []string) error {
	const usage = "usage: accountd user disable-2fa --user USERNAME_OR_EMAIL"
	var login string
	_, err := parseArgs(e, "user disable-2fa", usage, args, 0, func(fs *flag.FlagSet) {
		fs.StringVar(&login, "user", "", "the username or e-mail address of the account")
	})
	if err != nil {
		return err
	}
	if login == "" {
		return &usageError{msg: "missing --user", usage: usage}
	}
	a, err := app.New(ctx, e.cfg, e.log)
	if err != nil {
		return err
	}
	defer a.Close()
	u, err := a.Service.DisableTwoFactorFor(ctx, login)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.io.out, "two-factor authentication disabled for %s (%s)\n", u.Username, u.ID)
	return nil
}
