package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "tally",
		Short:         "Tally: usage metering and billing on NATS JetStream and ClickHouse",
		SilenceUsage:  true,
		SilenceErrors: false,
		// Every command's flags take their TALLY_* environment values.
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error { return bindEnv(cmd) },
	}
	root.AddCommand(newRunCmd(), newEmitCmd(), newUsageCmd(), newEntitlementsCmd(), newCloseCmd(), newInvoicesCmd(), newUnbilledCmd(), newBalanceCmd(), newPayoutsCmd(), newReportCmd(), newWebhooksCmd(),
		newPipelineCmd(), newVersionCmd(), newLauncherCmd(), newMigrationsCmd())
	return root
}

// bindEnv gives every flag of cmd that was not set on the command line the
// value of its TALLY_* environment variable (--http-addr ↔ TALLY_HTTP_ADDR).
func bindEnv(cmd *cobra.Command) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Changed || err != nil {
			return
		}
		name := envName(f.Name)
		if v, ok := os.LookupEnv(name); ok {
			if serr := f.Value.Set(v); serr != nil {
				err = fmt.Errorf("%s=%q: %w", name, v, serr)
			}
		}
	})
	return err
}

func envName(flag string) string {
	return "TALLY_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// annotateEnv appends the environment variable to each flag's help.
func annotateEnv(cmd *cobra.Command) {
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		f.Usage += " [$" + envName(f.Name) + "]"
	})
}

// newLogger logs JSON, or readable console lines when stderr is a terminal.
func newLogger(level string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil {
		return zerolog.Nop(), fmt.Errorf("log level %q: %w", level, err)
	}
	var log zerolog.Logger
	if isatty.IsTerminal(os.Stderr.Fd()) {
		log = zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: "15:04:05.000"})
	} else {
		log = zerolog.New(os.Stderr)
	}
	return log.Level(lvl).With().Timestamp().Logger(), nil
}
