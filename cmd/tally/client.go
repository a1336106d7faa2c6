package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/tally-billing/tally/api"
	"github.com/tally-billing/tally/auth"
)

// clientFlags are the connection flags of the CLI commands that talk to a
// running Tally over HTTP.
type clientFlags struct {
	url     string
	key     string
	dataDir string
	json    bool
}

func (c *clientFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&c.url, "url", "http://127.0.0.1:8080", "base URL of the Tally API")
	cmd.Flags().StringVar(&c.key, "key", "", "API key (default: the dev keys file of --data-dir, for the role needed)")
	cmd.Flags().StringVar(&c.dataDir, "data-dir", ".tally", "data dir of a local `tally run`, to find its dev keys file")
	cmd.Flags().BoolVar(&c.json, "json", false, "print the API's JSON")
}

// query calls the API and prints the answer: as the API's JSON with
// --json, else decoded into T and shown by show.
func query[T any](cmd *cobra.Command, c *clientFlags, method, path string, role auth.Role, show func(io.Writer, T)) error {
	body, err := c.call(cmd.Context(), method, path, role)
	if err != nil {
		return err
	}
	if c.json {
		_, err := cmd.OutOrStdout().Write(body)
		return err
	}
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("decoding the answer of %s: %w", path, err)
	}
	show(cmd.OutOrStdout(), v)
	return nil
}

// keyFor returns the key to use: --key, or the first key of role in the
// dev keys file.
func (c *clientFlags) keyFor(role auth.Role) (string, error) {
	if c.key != "" {
		return c.key, nil
	}
	key, err := auth.FindSecret(filepath.Join(c.dataDir, "keys.json"), role)
	if err != nil {
		return "", fmt.Errorf("no --key given: %w", err)
	}
	return key, nil
}

// httpClient waits as long as the server lets a close or a payout run take.
func (c *clientFlags) httpClient() *http.Client {
	return &http.Client{Timeout: api.LongRunningWrite + time.Minute}
}

// call sends a request with the key of role and returns the body of a 2xx
// answer; any other answer is an error carrying the server's message.
func (c *clientFlags) call(ctx context.Context, method, path string, role auth.Role) ([]byte, error) {
	key, err := c.keyFor(role)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return nil, fmt.Errorf("calling %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("reading answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(body))
	}
	return body, nil
}
