package daemon

import (
	"bytes"
	"encoding/json"
)

// ordered is a JSON object whose keys keep their order, so inspect output
// follows Docker's struct order rather than Go's sorted map keys.
type ordered []kv

type kv struct {
	K string
	V any
}

func (o ordered) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, e := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(e.K)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(e.V)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}
