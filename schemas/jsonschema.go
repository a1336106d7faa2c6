package schemas

import (
	"embed"
	"io/fs"
)

// JSONSchemaBaseURI is the base of the $id of every schema file. Files
// refer to each other by relative $ref, so a validator needs all of them:
// load [JSONSchemaFS] and register each file under JSONSchemaBaseURI + its
// name.
const JSONSchemaBaseURI = "https://github.com/tally-billing/tally/schemas/jsonschema/"

// The JSON Schema (draft 2020-12) files for emitters. A test keeps them in
// step with the Go types and with Decode.
//
//	common.schema.json    shared definitions (identifiers, decimals, currencies, enums)
//	data.schema.json      one definition per data payload
//	envelope.schema.json  the CloudEvents envelope
//	<type>.schema.json    one event type: envelope + type + data
//	event.schema.json     any event: dispatches on type
//
//go:embed jsonschema/*.schema.json
var schemaFiles embed.FS

// JSONSchemaFS returns the schema files (names as listed above, at the
// root of the file system).
func JSONSchemaFS() fs.FS {
	sub, err := fs.Sub(schemaFiles, "jsonschema")
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return sub
}

// JSONSchema returns the schema of events of type t, or nil for an unknown
// type. It refers to common.schema.json, data.schema.json and
// envelope.schema.json (see [JSONSchemaFS]).
func JSONSchema(t Type) []byte {
	if !t.Known() {
		return nil
	}
	b, err := schemaFiles.ReadFile("jsonschema/" + string(t) + ".schema.json")
	if err != nil {
		return nil
	}
	return b
}

// EventJSONSchema returns the schema that accepts an event of any type
// (event.schema.json), for validating batches.
func EventJSONSchema() []byte {
	b, _ := schemaFiles.ReadFile("jsonschema/event.schema.json")
	return b
}
