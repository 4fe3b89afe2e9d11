package replica

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"
)

// TestRemoteBigIO moves the largest write and read through the RPC, and
// longer ones that Remote splits.
func TestRemoteBigIO(t *testing.T) {
	s := mustNewStore(t)
	r, _ := mustRemote(t, s)
	must(t, r.Create(bg, "vol-big", 16*ExtentSize))
	data := randBytes(3, MaxIO+ExtentSize)
	must(t, r.Write(bg, "vol-big", 1, 512, data, true))
	wantBytes(t, mustRead(t, s, "vol-big", 512, len(data)), data, "local read of a remote write")
	wantBytes(t, mustRead(t, r, "vol-big", 512, len(data)), data, "remote read")
	a, err := s.ExtentSums(bg, "vol-big", 0, 16)
	must(t, err)
	b, err := r.ExtentSums(bg, "vol-big", 0, 16)
	must(t, err)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("sum %d differs between Store and Remote", i)
		}
	}
}

func TestRemoteUnavailable(t *testing.T) {
	r, srv := mustRemote(t, mustNewStore(t))
	must(t, r.Create(bg, "vol-a", ExtentSize))
	srv.Close()
	wantErr(t, r.Write(bg, "vol-a", 1, 0, []byte("x"), false), ErrUnavailable, "write to a closed server")
	_, err := r.Info(bg, "vol-a")
	wantErr(t, err, ErrUnavailable, "info from a closed server")
}

func TestRemoteDeadline(t *testing.T) {
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	srv := mustServe(t, slow)
	c := NewRemote(http.DefaultClient, srv)
	ctx, cancel := context.WithTimeout(bg, 50*time.Millisecond)
	defer cancel()
	wantErr(t, c.Flush(ctx, "vol-a", 1), ErrUnavailable, "flush past its deadline")
}

// TestHandlerRefusesMalformedRequests posts bodies a careless or hostile
// client could send.
func TestHandlerRefusesMalformedRequests(t *testing.T) {
	s := mustNewStore(t)
	must(t, s.Create(bg, "vol-a", ExtentSize))
	h := NewHandler(s)
	frame := func(q *wireReq, payload []byte) []byte {
		b, err := encodeRequest(q)
		must(t, err)
		return append(b, payload...)
	}
	for _, c := range []struct {
		name, op string
		body     []byte
		want     int
	}{
		{"unknown op", "nope", frame(&wireReq{ID: "vol-a"}, nil), 400},
		{"empty body", opInfo, nil, 400},
		{"huge header length", opInfo, []byte{0xff, 0xff, 0xff, 0xff}, 400},
		{"header cut", opInfo, frame(&wireReq{ID: "vol-a"}, nil)[:6], 400},
		{"bad id", opInfo, frame(&wireReq{ID: "a/b"}, nil), 400},
		{"write longer than declared", opWrite, frame(&wireReq{ID: "vol-a", Length: 2}, []byte("abc")), 400},
		{"write shorter than declared", opWrite, frame(&wireReq{ID: "vol-a", Length: 4}, []byte("abc")), 503},
		{"write over MaxIO", opWrite, frame(&wireReq{ID: "vol-a", Length: MaxIO + 1}, nil), 400},
		{"read over MaxIO", opRead, frame(&wireReq{ID: "vol-a", Length: MaxIO + 1}, nil), 400},
		{"read out of range", opRead, frame(&wireReq{ID: "vol-a", Off: ExtentSize, Length: 1}, nil), 400},
		{"payload on info", opInfo, frame(&wireReq{ID: "vol-a"}, []byte("x")), 400},
		{"negative runs", opMarkDirty, frame(&wireReq{ID: "vol-a", Peer: "b", Runs: []Run{{-1, 2}}}, nil), 400},
		{"fine", opInfo, frame(&wireReq{ID: "vol-a"}, nil), 200},
	} {
		rec := serveOnce(h, c.op, c.body)
		if rec.Code != c.want {
			t.Errorf("%s: status %d, want %d (%s)", c.name, rec.Code, c.want, rec.Body)
		}
	}
}
