package schemas

import "errors"

// Sentinels wrapped by [*FieldError]; callers decide with errors.Is.
var (
	// ErrMalformed: the bytes are not one acceptable JSON document (syntax
	// error, invalid UTF-8, duplicate object keys, too deep or too wide).
	ErrMalformed = errors.New("malformed JSON")

	// ErrMissingField: a required attribute or data field is absent.
	ErrMissingField = errors.New("missing field")

	// ErrUnknownField: a data field, or a top-level attribute that is not a
	// valid CloudEvents extension attribute, that the schema does not know.
	ErrUnknownField = errors.New("unknown field")

	// ErrUnknownType: the type attribute names no Tally event type.
	ErrUnknownType = errors.New("unknown event type")

	// ErrJSONNumber: a JSON number inside data, where every number must be
	// a decimal string.
	ErrJSONNumber = errors.New("JSON number in data")

	// ErrInvalidValue: a field is present but its value breaks the rules.
	ErrInvalidValue = errors.New("invalid value")

	// ErrFutureTime: the event's time is further ahead than allowed.
	ErrFutureTime = errors.New("event time in the future")

	// ErrNotBatch: a batch body is not a JSON array.
	ErrNotBatch = errors.New("not a batch")
)

// FieldError is a validation error about one field of an event.
//
// Field is a JSON path into the event: "time", "type", "specversion",
// "data.credits", "data.committed_seats.learner", "data.addons[1]". It is
// empty when the document as a whole is at fault (invalid JSON, not an
// object). Message says what is wrong and what is expected. Err is one of
// the package's sentinels.
type FieldError struct {
	Field   string
	Message string
	Err     error
}

// Error returns Field + ": " + Message, or just Message when the error is
// about the whole document.
func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// Unwrap returns the sentinel.
func (e *FieldError) Unwrap() error { return e.Err }
