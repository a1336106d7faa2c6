package main

import (
	"github.com/spf13/cobra"

	"github.com/tally-billing/tally/chlocal"
	"github.com/tally-billing/tally/daemon"
)

// newLauncherCmd is the hidden subcommand `tally run` starts as a child to
// host the managed ClickHouse server (see chlocal).
func newLauncherCmd() *cobra.Command {
	return &cobra.Command{
		Use:                daemon.LauncherCommand,
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(_ *cobra.Command, args []string) error {
			return chlocal.RunLauncher(args)
		},
	}
}
