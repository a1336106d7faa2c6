// Command tally is Tally's single binary: the daemon (run) and the CLI.
package main

import "os"

func main() {
	if err := newRootCmd().Execute(); err != nil {
		os.Exit(1)
	}
}
