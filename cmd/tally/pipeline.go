package main

import (
	"fmt"
	"io"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/tally-billing/tally/auth"
	"github.com/tally-billing/tally/pipeline"
)

func newPipelineCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pipeline",
		Short: "Read the pipeline's high-water marks, or wait until what it acknowledged is stored",
	}
	cmd.AddCommand(pipelineCmd("watermark", http.MethodGet,
		"Show how far the pipeline has validated and stored what it acknowledged (needs an ingest or finance key)"))
	cmd.AddCommand(pipelineCmd("barrier", http.MethodPost,
		"Wait until every event acknowledged before this call is stored (needs an ingest or finance key)"))
	return cmd
}

func pipelineCmd(name, method, short string) *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   name,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return query(cmd, &cf, method, "/v1/pipeline/"+name, auth.RoleIngest, printProgress)
		},
	}
	cf.register(cmd)
	annotateEnv(cmd)
	return cmd
}

func printProgress(w io.Writer, p pipeline.Progress) {
	fmt.Fprintf(w, "ingest stream (NATS emitters): last seq %d, validated through %d, %d pending\n",
		p.Ingest.Last, p.Ingest.Through, p.Ingest.Pending)
	fmt.Fprintf(w, "events stream: last seq %d, stored through %d, %d pending\n",
		p.Events.Last, p.Events.Through, p.Events.Pending)
}
