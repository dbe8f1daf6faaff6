package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"
)

// healthcheckCmd is `aura healthcheck`: one GET of the local server's
// liveness path, exit status 0 on a 200 and 1 otherwise. It is the
// container image's HEALTHCHECK (the runtime image has no shell and no curl).
// Without --url the address is server.addr (AURA_SERVER_ADDR) of the same
// configuration the server reads, a wildcard host meaning loopback.
func healthcheckCmd() *cobra.Command {
	var target string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "Exit 0 when the server answers GET /api/health/live with 200 (a container's health check)",
		Long: "Sends one GET to http://<server.addr>/api/health/live (or --url) and exits 0 on a 200, 1 otherwise.\n" +
			"For an `aura worker`, point --url at its operators' listener: --url http://127.0.0.1:9464/health",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if target == "" {
				cfg, err := loadConfig(cmd)
				if err != nil {
					return err
				}
				target = liveURL(cfg.Server.Addr)
			}
			client := &http.Client{Timeout: timeout}
			res, err := client.Get(target)
			if err != nil {
				return fmt.Errorf("healthcheck: %w", err)
			}
			defer res.Body.Close()
			_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 1<<16))
			if res.StatusCode != http.StatusOK {
				return fmt.Errorf("healthcheck: GET %s: %s", target, res.Status)
			}
			fmt.Fprintln(cmd.OutOrStdout(), "ok")
			return nil
		},
	}
	cmd.Flags().StringVar(&target, "url", "", "URL to check (default: http://<server.addr>/api/health/live)")
	cmd.Flags().DurationVar(&timeout, "timeout", 3*time.Second, "give up after this long")
	return cmd
}

// liveURL is the liveness URL of a server listening on addr: a wildcard or
// empty host is reached on loopback.
func liveURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr + "/api/health/live"
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/api/health/live"
}
