package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"text/tabwriter"
	"time"

	"accountd/account"
	"accountd/app"
	"accountd/model"
)

const userUsage = `usage: accountd user <command> [arguments]

USER is a username, an e-mail address or a user id.

commands:
  list          list the accounts (--json, --search S, --limit N)
  show          show one account: accountd user show USER [--json]
  create        create an account (accountd user create -h)
  set-password  set a user's password and sign them out everywhere
  promote       make a user an administrator          (demote: undo)
  suspend       allow a user nothing but their account page (unsuspend: undo)
  freeze        refuse every change to a user's account  (unfreeze: undo)
  sign-out      end every session of a user (--api-keys: delete their keys too)
  delete        delete a user and everything they own (--yes: do not ask)
  disable-2fa   turn two-factor authentication off for a user who lost both codes

Each command works whether or not a server runs on the same database; each
change is recorded in the user's activity as made by an operator.
Run accountd user <command> -h for a command's flags.`

// userSubcommand returns the user sub-command of that name, or nil.
func userSubcommand(name string) commandFunc {
	switch name {
	case "list":
		return userList
	case "show":
		return userShow
	case "create":
		return userCreate
	case "set-password":
		return userSetPassword
	case "promote":
		return userFlag("promote", model.FlagAdmin, true)
	case "demote":
		return userFlag("demote", model.FlagAdmin, false)
	case "suspend":
		return userFlag("suspend", model.FlagSuspended, true)
	case "unsuspend":
		return userFlag("unsuspend", model.FlagSuspended, false)
	case "freeze":
		return userFlag("freeze", model.FlagFrozen, true)
	case "unfreeze":
		return userFlag("unfreeze", model.FlagFrozen, false)
	case "sign-out":
		return userSignOut
	case "delete":
		return userDelete
	case "disable-2fa":
		return userDisableTwoFactor
	}
	return nil
}

func userCommand(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return &usageError{msg: "missing user command", usage: userUsage}
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(e.io.out, userUsage)
		return errHelp
	}
	c := userSubcommand(args[0])
	if c == nil {
		return &usageError{msg: fmt.Sprintf("unknown user command %q", args[0]), usage: userUsage}
	}
	return c(ctx, e, args[1:])
}

// withService runs fn with the service on the configured database,
// migrated as the server would.
func withService(ctx context.Context, e *env, fn func(*account.Service) error) error {
	a, err := app.New(ctx, e.cfg, e.log)
	if err != nil {
		return err
	}
	defer a.Close()
	return fn(a.Service)
}

// userJSON is an account as the JSON output of list and show gives it:
// never a secret (no hash, no TOTP secret).
type userJSON struct {
	ID            string    `json:"id"`
	Username      string    `json:"username"`
	Email         string    `json:"email"`
	NameFirst     string    `json:"name_first"`
	NameLast      string    `json:"name_last"`
	Admin         bool      `json:"admin"`
	Suspended     bool      `json:"suspended"`
	Frozen        bool      `json:"frozen"`
	TwoFactor     bool      `json:"two_factor"`
	HasPassword   bool      `json:"has_password"`
	Created       time.Time `json:"created"`
	Sessions      *int      `json:"sessions,omitempty"`
	APIKeys       *int      `json:"api_keys,omitempty"`
	RecoveryCodes *int      `json:"recovery_codes,omitempty"`
	SecurityKeys  *int      `json:"security_keys,omitempty"`
}

func toUserJSON(u *model.User) userJSON {
	return userJSON{ID: u.ID.String(), Username: u.Username, Email: u.Email, NameFirst: u.NameFirst,
		NameLast: u.NameLast, Admin: u.Admin, Suspended: u.Suspended, Frozen: u.Frozen,
		TwoFactor: u.TOTPEnabled, HasPassword: u.HasPassword(), Created: u.Created}
}

// state words an account's restrictions for the table.
func state(u *model.User) string {
	switch {
	case u.Suspended && u.Frozen:
		return "suspended,frozen"
	case u.Suspended:
		return "suspended"
	case u.Frozen:
		return "frozen"
	}
	return "active"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func userList(ctx context.Context, e *env, args []string) error {
	const usage = "usage: accountd user list [--json] [--search S] [--limit N]"
	var (
		asJSON bool
		search string
		limit  int
	)
	_, err := parseArgs(e, "user list", usage, args, 0, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print a JSON array instead of a table")
		fs.StringVar(&search, "search", "", "only accounts whose username or e-mail address contains S")
		fs.IntVar(&limit, "limit", 0, "print at most N accounts (0: all)")
	})
	if err != nil {
		return err
	}
	if limit < 0 {
		return &usageError{msg: "--limit must be 0 or more", usage: usage}
	}
	return withService(ctx, e, func(svc *account.Service) error {
		var (
			tw    = tabwriter.NewWriter(e.io.out, 0, 4, 2, ' ', 0)
			n     int
			after string
		)
		if asJSON {
			fmt.Fprint(e.io.out, "[")
		} else {
			fmt.Fprintln(tw, "ID\tUSERNAME\tEMAIL\tADMIN\t2FA\tSTATE\tCREATED")
		}
		for {
			page := 100
			if limit > 0 {
				page = min(page, limit-n)
			}
			users, more, err := svc.ListUsers(ctx, model.ListQuery{First: page, After: after, Search: search})
			if err != nil {
				return err
			}
			for _, u := range users {
				if asJSON {
					if n > 0 {
						fmt.Fprint(e.io.out, ",")
					}
					fmt.Fprint(e.io.out, "\n  ")
					b, err := json.Marshal(toUserJSON(u))
					if err != nil {
						return err
					}
					e.io.out.Write(b) //nolint:errcheck // a broken stdout ends the listing below
				} else {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", u.ID, u.Username, u.Email, yesNo(u.Admin),
						yesNo(u.TOTPEnabled), state(u), u.Created.Format(time.RFC3339))
				}
				n++
			}
			if !more || len(users) == 0 || (limit > 0 && n >= limit) {
				break
			}
			after = account.UserCursor(users[len(users)-1])
		}
		if asJSON {
			if n > 0 {
				fmt.Fprint(e.io.out, "\n")
			}
			_, err := fmt.Fprintln(e.io.out, "]")
			return err
		}
		return tw.Flush()
	})
}

func userShow(ctx context.Context, e *env, args []string) error {
	const usage = "usage: accountd user show USER [--json]"
	var asJSON bool
	pos, err := parseArgs(e, "user show", usage, args, 1, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print a JSON object")
	})
	if err != nil {
		return err
	}
	return withService(ctx, e, func(svc *account.Service) error {
		d, err := svc.ShowUser(ctx, pos[0])
		if err != nil {
			return err
		}
		if asJSON {
			j := toUserJSON(d.User)
			j.Sessions, j.APIKeys, j.RecoveryCodes, j.SecurityKeys = &d.Sessions, &d.APIKeys, &d.RecoveryCodes, &d.SecurityKeys
			enc := json.NewEncoder(e.io.out)
			enc.SetIndent("", "  ")
			return enc.Encode(j)
		}
		u := d.User
		tw := tabwriter.NewWriter(e.io.out, 0, 4, 2, ' ', 0)
		for _, row := range [][2]string{
			{"id", u.ID.String()},
			{"username", u.Username},
			{"email", u.Email},
			{"name", u.NameFirst + " " + u.NameLast},
			{"admin", yesNo(u.Admin)},
			{"state", state(u)},
			{"password", yesNo(u.HasPassword())},
			{"two-factor", yesNo(u.TOTPEnabled)},
			{"recovery codes", fmt.Sprint(d.RecoveryCodes)},
			{"sessions", fmt.Sprint(d.Sessions)},
			{"api keys", fmt.Sprint(d.APIKeys)},
			{"security keys", fmt.Sprint(d.SecurityKeys)},
			{"created", u.Created.Format(time.RFC3339)},
		} {
			fmt.Fprintf(tw, "%s:\t%s\n", row[0], row[1])
		}
		return tw.Flush()
	})
}

func userCreate(ctx context.Context, e *env, args []string) error {
	const usage = "usage: accountd user create --username U --email E (--password-stdin | --password P) [--name-first F] [--name-last L] [--admin]"
	var (
		in        account.CreateUserInput
		fromStdin bool
	)
	_, err := parseArgs(e, "user create", usage, args, 0, func(fs *flag.FlagSet) {
		fs.StringVar(&in.Username, "username", "", "username (3–15 characters, letters, digits, _)")
		fs.StringVar(&in.Email, "email", "", "e-mail address")
		fs.BoolVar(&fromStdin, "password-stdin", false, "read the password from the first line of stdin")
		fs.StringVar(&in.Password, "password", "", "the password (visible to other users of the machine: prefer --password-stdin)")
		fs.StringVar(&in.NameFirst, "name-first", "", "first name (default: the username)")
		fs.StringVar(&in.NameLast, "name-last", "", "last name (default: the username)")
		fs.BoolVar(&in.Admin, "admin", false, "make the user an administrator")
	})
	if err != nil {
		return err
	}
	switch {
	case in.Username == "":
		return &usageError{msg: "missing --username", usage: usage}
	case in.Email == "":
		return &usageError{msg: "missing --email", usage: usage}
	case fromStdin && in.Password != "":
		return &usageError{msg: "give --password-stdin or --password, not both", usage: usage}
	case !fromStdin && in.Password == "":
		return &usageError{msg: "missing --password-stdin (or --password)", usage: usage}
	}
	if fromStdin {
		if in.Password, err = readPassword(e, true); err != nil {
			return err
		}
	}
	if in.NameFirst == "" {
		in.NameFirst = in.Username
	}
	if in.NameLast == "" {
		in.NameLast = in.Username
	}
	return withService(ctx, e, func(svc *account.Service) error {
		u, err := svc.CreateUser(ctx, in)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.io.out, "created user %s (%s), admin=%v\n", u.Username, u.ID, u.Admin)
		return nil
	})
}

func userSetPassword(ctx context.Context, e *env, args []string) error {
	const usage = "usage: accountd user set-password USER [--password-stdin]\n\n" +
		"Prompts for the new password twice, without echo; --password-stdin reads it from stdin's first line."
	var fromStdin bool
	pos, err := parseArgs(e, "user set-password", usage, args, 1, func(fs *flag.FlagSet) {
		fs.BoolVar(&fromStdin, "password-stdin", false, "read the password from the first line of stdin")
	})
	if err != nil {
		return err
	}
	return withService(ctx, e, func(svc *account.Service) error {
		// Find the user before asking for a password for them.
		if _, err := svc.FindUser(ctx, pos[0]); err != nil {
			return err
		}
		pw, err := readPassword(e, fromStdin)
		if err != nil {
			return err
		}
		u, ended, err := svc.SetPasswordFor(ctx, pos[0], pw)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.io.out, "password set for %s (%s); %s signed out\n", u.Username, u.ID, plural(ended, "session"))
		return nil
	})
}

// userFlag is the command that turns one state on or off.
func userFlag(name string, flag model.UserFlag, on bool) commandFunc {
	return func(ctx context.Context, e *env, args []string) error {
		usage := "usage: accountd user " + name + " USER"
		pos, err := parseArgs(e, "user "+name, usage, args, 1)
		if err != nil {
			return err
		}
		return withService(ctx, e, func(svc *account.Service) error {
			u, changed, err := svc.SetUserFlag(ctx, pos[0], flag, on)
			if err != nil {
				return err
			}
			what := flagWords(flag, on)
			if changed {
				fmt.Fprintf(e.io.out, "%s (%s) is now %s\n", u.Username, u.ID, what)
			} else {
				fmt.Fprintf(e.io.out, "%s (%s) was already %s; nothing changed\n", u.Username, u.ID, what)
			}
			return nil
		})
	}
}

func flagWords(flag model.UserFlag, on bool) string {
	switch flag {
	case model.FlagAdmin:
		if on {
			return "an administrator"
		}
		return "not an administrator"
	case model.FlagSuspended:
		if on {
			return "suspended"
		}
		return "not suspended"
	}
	if on {
		return "frozen"
	}
	return "not frozen"
}

func userSignOut(ctx context.Context, e *env, args []string) error {
	const usage = "usage: accountd user sign-out USER [--api-keys]"
	var keys bool
	pos, err := parseArgs(e, "user sign-out", usage, args, 1, func(fs *flag.FlagSet) {
		fs.BoolVar(&keys, "api-keys", false, "delete the user's API keys too")
	})
	if err != nil {
		return err
	}
	return withService(ctx, e, func(svc *account.Service) error {
		u, sessions, deleted, err := svc.SignOutUser(ctx, pos[0], keys)
		if err != nil {
			return err
		}
		msg := fmt.Sprintf("signed out %s (%s): %s ended", u.Username, u.ID, plural(sessions, "session"))
		if keys {
			msg += fmt.Sprintf(", %s deleted", plural(deleted, "API key"))
		}
		fmt.Fprintln(e.io.out, msg)
		return nil
	})
}

func userDelete(ctx context.Context, e *env, args []string) error {
	const usage = "usage: accountd user delete USER [--yes]"
	var yes bool
	pos, err := parseArgs(e, "user delete", usage, args, 1, func(fs *flag.FlagSet) {
		fs.BoolVar(&yes, "yes", false, "do not ask for confirmation")
	})
	if err != nil {
		return err
	}
	return withService(ctx, e, func(svc *account.Service) error {
		u, err := svc.FindUser(ctx, pos[0])
		if err != nil {
			return err
		}
		if !yes && !confirm(e, fmt.Sprintf("Delete %s <%s> (%s) with all their sessions, API keys and history?", u.Username, u.Email, u.ID)) {
			return errors.New("not confirmed; nothing deleted")
		}
		// By id: the name could have changed hands since the question.
		if u, err = svc.DeleteUser(ctx, u.ID.String()); err != nil {
			return err
		}
		fmt.Fprintf(e.io.out, "deleted user %s (%s)\n", u.Username, u.ID)
		return nil
	})
}

// userDisableTwoFactor is the operator's way back in for a user who lost
// both the authenticator and the recovery codes.
func userDisableTwoFactor(ctx context.Context, e *env, args []string) error {
	const usage = "usage: accountd user disable-2fa USER"
	var login string
	pos, err := parseArgsRange(e, "user disable-2fa", usage, args, 0, 1, func(fs *flag.FlagSet) {
		fs.StringVar(&login, "user", "", "the account, as the USER argument (the older spelling)")
	})
	if err != nil {
		return err
	}
	switch {
	case len(pos) == 1 && login != "":
		return &usageError{msg: "give USER or --user, not both", usage: usage}
	case len(pos) == 1:
		login = pos[0]
	case login == "":
		return &usageError{msg: "missing argument", usage: usage}
	}
	return withService(ctx, e, func(svc *account.Service) error {
		u, err := svc.DisableTwoFactorFor(ctx, login)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.io.out, "two-factor authentication disabled for %s (%s)\n", u.Username, u.ID)
		return nil
	})
}

// plural is "1 session", "2 sessions".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
