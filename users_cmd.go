package main

import "github.com/spf13/cobra"

func usersCmd() *cobra.Command {
	return &cobra.Command{Use: "users", Short: "Manage accounts"}
}
