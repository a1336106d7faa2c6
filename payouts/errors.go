package payouts

import "errors"

var (
	// ErrTransferRefused is wrapped by a [TransferSender]'s error when the
	// transfer was refused for good: Stripe answered with a 4xx, the request
	// was invalid, or Stripe holds a different transfer under the payout's
	// id. Sending it again cannot help: the payout is marked failed and its
	// money is available again from the failure time. Any other error is
	// transient: the payout stays pending and the next run call sends it.
	ErrTransferRefused = errors.New("transfer refused")

	// ErrMissingDependency is returned by [New] when the config lacks the
	// price book, the event source or the store.
	ErrMissingDependency = errors.New("missing dependency")
)
