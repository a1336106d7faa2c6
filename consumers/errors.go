package consumers

import "errors"

var (
	// ErrConflict marks an event whose identity (source, id) is already
	// stored with different content. The first one wins.
	ErrConflict = errors.New("conflicting duplicate")
	// ErrUndecodable marks a stream message that is not a valid event.
	ErrUndecodable = errors.New("undecodable event")
)

type permanentError struct{ err error }

func (p permanentError) Error() string { return p.err.Error() }
func (p permanentError) Unwrap() error { return p.err }

// Permanent marks err as one that retrying cannot fix.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err was marked Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}
