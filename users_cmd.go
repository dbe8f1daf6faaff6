package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"aura/app"
)

func usersCmd() *cobra.Command {
	users := &cobra.Command{Use: "users", Short: "Manage accounts"}
	var email, name string
	var roles []string
	create := &cobra.Command{
		Use:   "create --email E --role ROLE",
		Short: "Create an account; the password is read from standard input",
		Long: "Create an account with the given role(s), its email counted as verified.\n" +
			"The password is read from standard input (first line), or prompted for without echo on a terminal.\n" +
			"Example: echo 'violet harbor lantern 91' | aura users create --email admin@clinic.example --role ADMIN",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if email == "" {
				return errors.New("--email is required")
			}
			password, err := readPassword(cmd)
			if err != nil {
				return err
			}
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			cfg.Database.AutoMigrate = true // the schema must exist for the first account
			a, err := app.New(cmd.Context(), cfg, app.NewLogger(cfg, io.Discard))
			if err != nil {
				return err
			}
			defer a.Close()
			u, err := a.CreateUser(cmd.Context(), email, password, name, roles)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created %s (%s) with roles %s\n", u.Email, u.ID, strings.Join(u.RoleNames(), ", "))
			return nil
		},
	}
	create.Flags().StringVar(&email, "email", "", "email address of the account (required)")
	create.Flags().StringVar(&name, "name", "", "full name (default: the part of the email before @)")
	create.Flags().StringSliceVar(&roles, "role", []string{"PATIENT"}, "role: PATIENT, DOCTOR or ADMIN (repeatable)")
	users.AddCommand(create)
	return users
}

// readPassword reads the password without echo on a terminal, else the first
// line of standard input (the line ending is not part of it).
func readPassword(cmd *cobra.Command) (string, error) {
	in := cmd.InOrStdin()
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(cmd.ErrOrStderr(), "Password: ")
		p1, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(cmd.ErrOrStderr())
		if err != nil {
			return "", err
		}
		fmt.Fprint(cmd.ErrOrStderr(), "Repeat password: ")
		p2, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(cmd.ErrOrStderr())
		if err != nil {
			return "", err
		}
		if string(p1) != string(p2) {
			return "", errors.New("the passwords differ")
		}
		return string(p1), nil
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("no password on standard input")
	}
	return line, nil
}
