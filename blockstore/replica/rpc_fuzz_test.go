package replica

import (
	"encoding/binary"
	"net/http"
	"testing"
)

// FuzzHandler posts arbitrary bodies to every operation of a handler over a
// real Store: it must never panic, answer 200 or a coded error, and never
// leave the volume unreadable. The seeds run under plain go test.
func FuzzHandler(f *testing.F) {
	seed := func(op string, q *wireReq, payload []byte) {
		b, err := encodeRequest(q)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(op, append(b, payload...))
	}
	const id = "vol-fuzz"
	seed(opInfo, &wireReq{ID: id}, nil)
	seed(opList, &wireReq{}, nil)
	seed(opWrite, &wireReq{ID: id, Epoch: 1, Off: 4096, Length: 4}, []byte("data"))
	seed(opWrite, &wireReq{ID: id, Epoch: 1, Off: -1, Length: 1}, []byte("x"))
	seed(opRead, &wireReq{ID: id, Off: 0, Length: 512}, nil)
	seed(opZero, &wireReq{ID: id, Epoch: 1, Off: 0, Length: 1 << 20, FUA: true}, nil)
	seed(opFlush, &wireReq{ID: id, Epoch: 2}, nil)
	seed(opGrow, &wireReq{ID: id, Epoch: 2, Size: 2 * ExtentSize}, nil)
	seed(opSums, &wireReq{ID: id, First: 0, Count: 4}, nil)
	seed(opReadExtent, &wireReq{ID: id, First: 0}, nil)
	seed(opWriteExtent, &wireReq{ID: id, Epoch: 2, First: 0, Length: 3}, []byte("abc"))
	seed(opMarkDirty, &wireReq{ID: id, Epoch: 2, Peer: "box-b", Runs: []Run{{0, 1}}}, nil)
	seed(opClearDirty, &wireReq{ID: id, Epoch: 2, Peer: "box-b", Runs: []Run{{0, 1}}}, nil)
	seed(opDirty, &wireReq{ID: id}, nil)
	seed(opCreate, &wireReq{ID: "vol-new", Size: 1 << 20}, nil)
	seed(opDelete, &wireReq{ID: "vol-new"}, nil)
	f.Add(opWrite, binary.BigEndian.AppendUint32(nil, 1<<31))
	f.Add(opInfo, []byte{0, 0, 0, 1, 0xbf})

	s, err := Open(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	if err := s.Create(bg, id, ExtentSize); err != nil {
		f.Fatal(err)
	}
	h := NewHandler(s)
	f.Fuzz(func(t *testing.T, op string, body []byte) {
		rec := serveOnce(h, op, body)
		if rec.Code != http.StatusOK {
			var we wireErr
			if err := decMode.Unmarshal(rec.Body.Bytes(), &we); err != nil || len(we.Codes) == 0 {
				t.Fatalf("status %d without a coded error: %q", rec.Code, rec.Body.Bytes())
			}
		}
		if info, err := s.Info(bg, id); err == nil {
			if err := s.Read(bg, id, 0, make([]byte, min(info.Size, 4096))); err != nil {
				t.Fatalf("volume unreadable after %s: %v", op, err)
			}
		}
	})
}
