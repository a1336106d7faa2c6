package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tally-billing/tally/chstore"
)

func newMigrationsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrations",
		Short: "Inspect Tally's ClickHouse schema migrations",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newMigrationsRenderCmd())
	return cmd
}

func newMigrationsRenderCmd() *cobra.Command {
	var cluster string
	cmd := &cobra.Command{
		Use:   "render",
		Short: "Print the DDL Tally applies at start, for one server or a ClickHouse cluster",
		Long: `Print every schema statement Tally applies at start (the migrations table,
then each migration in order) as a script for clickhouse-client --multiquery.

With --clickhouse-cluster NAME the statements are rendered as "tally run
--clickhouse-cluster NAME" applies them: ON CLUSTER 'NAME', each table as
<table>_local with a Replicated engine in Keeper plus a Distributed table
under its name. Review it, or apply it yourself before the first start;
Tally records nothing it did not apply and re-runs IF NOT EXISTS statements
harmlessly.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			script, err := chstore.RenderScript(cluster)
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(cmd.OutOrStdout(), script)
			return err
		},
	}
	cmd.Flags().StringVar(&cluster, "clickhouse-cluster", "", "ClickHouse cluster (remote_servers name) to render for; empty: one server")
	annotateEnv(cmd)
	return cmd
}
