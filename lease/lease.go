// Package lease elects one holder among Tally replicas for a singleton job
// (period close, payout runs), with a lease in a JetStream key-value bucket.
//
// The lease is one key whose value names the holder and when the lease
// expires. Taking it and renewing it are compare-and-set writes on the
// key's revision, so two replicas can never both succeed; the revision
// that won is the fencing token. A holder that stops renewing loses the
// lease when it expires, and another replica takes it over.
package lease

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Bucket is the key-value bucket of Tally's leases.
const Bucket = "TALLY_LEASES"

// Config configures a lease.
type Config struct {
	// Key names the job, e.g. "period-close".
	Key string
	// Holder identifies this replica (unique per process).
	Holder string
	// TTL is how long a lease lasts without renewal (default 2m). Renew
	// more often than that.
	TTL time.Duration
	// Replicas of the bucket: 1 on a single server, 3 on a cluster.
	Replicas int
	// Now is the clock (default time.Now). Replicas' clocks must agree to
	// well within TTL.
	Now func() time.Time
}

// Lease is one replica's handle on a lease.
type Lease struct {
	kv  jetstream.KeyValue
	cfg Config
}

type record struct {
	Holder  string    `json:"holder"`
	Expires time.Time `json:"expires"`
}

// New opens (creating if needed) the lease bucket.
func New(ctx context.Context, js jetstream.JetStream, cfg Config) (*Lease, error) {
	if cfg.Key == "" || cfg.Holder == "" {
		return nil, errors.New("lease: key and holder are required")
	}
	if cfg.TTL <= 0 {
		cfg.TTL = 2 * time.Minute
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: Bucket, Description: "Tally singleton-job leases", History: 1,
		Storage: jetstream.FileStorage, Replicas: cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("opening lease bucket: %w", err)
	}
	return &Lease{kv: kv, cfg: cfg}, nil
}

// Acquire takes the lease if it is free or expired, or renews it if this
// replica holds it. It returns the fencing token (the key's revision after
// the write) and whether this replica holds the lease now.
func (l *Lease) Acquire(ctx context.Context) (token uint64, held bool, err error) {
	now := l.cfg.Now()
	value, err := json.Marshal(record{Holder: l.cfg.Holder, Expires: now.Add(l.cfg.TTL)})
	if err != nil {
		return 0, false, err
	}
	entry, err := l.kv.Get(ctx, l.cfg.Key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		rev, err := l.kv.Create(ctx, l.cfg.Key, value)
		if err != nil {
			return 0, false, nil //nolint:nilerr // another replica created it first
		}
		return rev, true, nil
	case err != nil:
		return 0, false, fmt.Errorf("reading lease %s: %w", l.cfg.Key, err)
	}
	var cur record
	if err := json.Unmarshal(entry.Value(), &cur); err != nil {
		return 0, false, fmt.Errorf("decoding lease %s: %w", l.cfg.Key, err)
	}
	if cur.Holder != l.cfg.Holder && now.Before(cur.Expires) {
		return 0, false, nil // held by another replica
	}
	rev, err := l.kv.Update(ctx, l.cfg.Key, value, entry.Revision())
	if err != nil {
		return 0, false, nil //nolint:nilerr // lost the race to another replica
	}
	return rev, true, nil
}

// Check reports whether token is still the lease's current revision held
// by this replica and unexpired: the fence a job checks before it commits.
func (l *Lease) Check(ctx context.Context, token uint64) error {
	entry, err := l.kv.Get(ctx, l.cfg.Key)
	if err != nil {
		return fmt.Errorf("reading lease %s: %w", l.cfg.Key, err)
	}
	var cur record
	if err := json.Unmarshal(entry.Value(), &cur); err != nil {
		return fmt.Errorf("decoding lease %s: %w", l.cfg.Key, err)
	}
	if entry.Revision() != token || cur.Holder != l.cfg.Holder || !l.cfg.Now().Before(cur.Expires) {
		return fmt.Errorf("%w: %s", ErrLost, l.cfg.Key)
	}
	return nil
}

// Release gives the lease up (at shutdown), if this replica holds it.
func (l *Lease) Release(ctx context.Context) error {
	entry, err := l.kv.Get(ctx, l.cfg.Key)
	if err != nil {
		return nil //nolint:nilerr // no lease to read, none to give up
	}
	var cur record
	if json.Unmarshal(entry.Value(), &cur) != nil || cur.Holder != l.cfg.Holder {
		return nil //nolint:nilerr // not (readably) ours: nothing to give up
	}
	value, _ := json.Marshal(record{Holder: "", Expires: time.Time{}})
	_, err = l.kv.Update(ctx, l.cfg.Key, value, entry.Revision())
	return err
}

// ErrLost means the lease was taken over or expired.
var ErrLost = errors.New("lease lost")
