package main

// The chaos soak's checks, as pure functions of the recorded history so that they can be
// tested on made-up histories (chaos_check_test.go) and fed deliberately wrong
// expectations (--selftest) to show that each one fires.

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

const absent = "(absent)"

// keyOps groups the data-bucket operations of the soak by key, each in start order (a
// key is written by one client only, so its operations form a sequence).
func keyOps(ops []*opRecord) map[string][]*opRecord {
	m := map[string][]*opRecord{}
	for _, r := range ops {
		switch r.Op {
		case "put", "get", "delete":
			m[r.Key] = append(m[r.Key], r)
		}
	}
	for _, l := range m {
		sort.SliceStable(l, func(i, j int) bool { return l[i].Start.Before(l[j].Start) })
	}
	return m
}

// expectation is what a read of a key may return after the writes in prior.
type expectation struct {
	want      string          // the last acknowledged write's value (absent after a delete or none)
	last      *opRecord       // that write
	maybe     map[string]bool // values of writes with an ambiguous outcome (open-ended: they may land late)
	acked     map[string]bool // values of every acknowledged put
	rejected  map[string]bool // values of puts answered with a 4xx: they must never appear
	anyWrites bool
}

func expect(prior []*opRecord) expectation {
	e := expectation{want: absent, maybe: map[string]bool{}, acked: map[string]bool{}, rejected: map[string]bool{}}
	for _, r := range prior {
		if r.Op != "put" && r.Op != "delete" {
			continue
		}
		e.anyWrites = true
		v := absent
		if r.Op == "put" {
			v = r.Hash
		}
		switch {
		case r.ack():
			e.want, e.last = v, r
			if r.Op == "put" {
				e.acked[v] = true
			}
		case r.ambiguous():
			e.maybe[v] = true
		case r.Op == "put":
			e.rejected[v] = true
		}
	}
	return e
}

// judge classifies a read that returned got (a body hash, or absent for NoSuchKey):
// ok, ok-maybe (an ambiguous write's value), missing (absent though an acknowledged
// put is the last word), stale (an older acknowledged value), resurrected (a deleted
// value back), corrupted (a value never written, or one whose write was refused).
func (e expectation) judge(got string) string {
	switch {
	case got == e.want:
		return "ok"
	case e.maybe[got]:
		return "ok-maybe"
	case got == absent:
		return "missing"
	case e.rejected[got] && !e.acked[got]:
		return "corrupted"
	case !e.acked[got]:
		return "corrupted"
	case e.want == absent:
		return "resurrected"
	}
	return "stale"
}

// readValue is what a successful, whole GET returned; ok is false for reads that tell
// nothing about the content (errors other than NoSuchKey, broken-off bodies).
func readValue(r *opRecord) (string, bool) {
	switch {
	case r.Result == "ok" && !r.Truncated:
		return r.Hash, true
	case r.Result == "error" && r.Code == "NoSuchKey":
		return absent, true
	}
	return "", false
}

// soakReport: reads and listings during the soak, judged against the key's own history.
type soakReport struct {
	Anomalies  map[string]int `json:"read_anomalies"` // missing, stale, resurrected, corrupted
	Examples   []string       `json:"read_examples,omitempty"`
	BrokenOff  int            `json:"broken_off_gets"`
	BrokenEx   []string       `json:"broken_off_examples,omitempty"`
	ListAnom   int            `json:"list_anomalies"`
	ListEx     []string       `json:"list_examples,omitempty"`
	CorruptGet int            `json:"corrupted_gets"` // whole-length GETs whose content was never written
}

func addExample(l *[]string, s string) {
	if len(*l) < 5 {
		*l = append(*l, s)
	}
}

func checkSoak(ops []*opRecord) soakReport {
	rep := soakReport{Anomalies: map[string]int{}}
	byKey := keyOps(ops)
	for _, l := range byKey {
		for i, r := range l {
			if r.Op != "get" || r.Phase == "final" {
				continue
			}
			if r.Truncated {
				rep.BrokenOff++
				addExample(&rep.BrokenEx, r.String())
				continue
			}
			got, ok := readValue(r)
			if !ok {
				continue
			}
			e := expect(l[:i])
			switch v := e.judge(got); v {
			case "ok", "ok-maybe":
			default:
				rep.Anomalies[v]++
				if v == "corrupted" {
					rep.CorruptGet++
				}
				last := "no acknowledged write"
				if e.last != nil {
					last = "last acknowledged: " + e.last.String()
				}
				addExample(&rep.Examples, fmt.Sprintf("%s read: %s (%s)", v, r.String(), last))
			}
		}
	}
	// A listing of a client's own prefix must show every key whose last word is an
	// acknowledged put and none whose last word is an acknowledged delete, unless an
	// ambiguous write may have changed it.
	for _, r := range ops {
		if r.Op != "list" || r.Result != "ok" || r.Phase == "final" {
			continue
		}
		listed := map[string]bool{}
		for _, k := range r.Listed {
			listed[k] = true
		}
		for key, l := range byKey {
			if !strings.HasPrefix(key, r.Key) {
				continue
			}
			var prior []*opRecord
			for _, o := range l {
				if o.End.Before(r.Start) {
					prior = append(prior, o)
				}
			}
			e := expect(prior)
			if len(e.maybe) > 0 || !e.anyWrites {
				continue
			}
			if present := e.want != absent; present != listed[key] {
				rep.ListAnom++
				addExample(&rep.ListEx, fmt.Sprintf("list %s via n%d at %s: %s %s, but the last acknowledged write was %s",
					r.Key, r.Node, r.Start.Format("15:04:05.000"), key, map[bool]string{true: "listed", false: "not listed"}[listed[key]], e.last))
			}
		}
	}
	return rep
}

// finalReport: every key read back through every node after healing.
type finalReport struct {
	Keys         int            `json:"keys"`
	Reads        int            `json:"reads"`
	Lost         int            `json:"lost"` // key x node reads
	LostKeys     int            `json:"lost_keys"`
	LostKinds    map[string]int `json:"lost_kinds"` // missing, stale, unreadable
	Corrupted    int            `json:"corrupted"`
	Resurrected  int            `json:"resurrected"`
	LateApplied  int            `json:"late_applied"` // a key whose final value is an unacknowledged write's
	Divergent    int            `json:"divergent"`    // keys the nodes answer differently
	Examples     []string       `json:"examples,omitempty"`
	LateEx       []string       `json:"late_applied_examples,omitempty"`
	ListDisagree int            `json:"list_disagreements"`
	ListEx       []string       `json:"list_examples,omitempty"`
}

// checkFinal judges the final reads: finals[key][node-1] is the last attempt through
// that node; lists[node-1] the keys a full listing through it showed (nil: it failed).
func checkFinal(ops []*opRecord, finals map[string][]*opRecord, lists [][]string) finalReport {
	rep := finalReport{LostKinds: map[string]int{}}
	byKey := keyOps(ops)
	var keys []string
	for k := range finals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		var prior []*opRecord
		for _, r := range byKey[key] {
			if r.Phase != "final" {
				prior = append(prior, r)
			}
		}
		e := expect(prior)
		rep.Keys++
		seen := map[string]bool{}
		lostHere := false
		for _, r := range finals[key] {
			if r == nil {
				continue
			}
			rep.Reads++
			got, ok := readValue(r)
			why := ""
			if !ok {
				// still failing after the retries: the acknowledged value cannot be read
				// through this node
				if e.want == absent && len(e.maybe) == 0 {
					continue
				}
				why = "unreadable"
			} else {
				seen[got] = true
				switch v := e.judge(got); v {
				case "ok":
				case "ok-maybe":
					if got != e.want {
						rep.LateApplied++
						for _, w := range prior {
							if w.ambiguous() && (w.Hash == got && w.Op == "put" || got == absent && w.Op == "delete") {
								addExample(&rep.LateEx, fmt.Sprintf("%s reads the value of %s (last acknowledged: %v)", r, w, e.last))
								break
							}
						}
					}
				case "missing", "stale":
					why = v
				case "resurrected":
					rep.Resurrected++
					addExample(&rep.Examples, fmt.Sprintf("resurrected: %s; last acknowledged: %s", r, e.last))
				case "corrupted":
					rep.Corrupted++
					addExample(&rep.Examples, fmt.Sprintf("corrupted: %s; last acknowledged: %v", r, e.last))
				}
			}
			if why != "" {
				rep.Lost++
				rep.LostKinds[why]++
				lostHere = true
				addExample(&rep.Examples, fmt.Sprintf("lost (%s): %s; last acknowledged: %s", why, r, e.last))
			}
		}
		if lostHere {
			rep.LostKeys++
		}
		if len(seen) > 1 {
			rep.Divergent++
		}
	}
	// Listings through every node agree with that node's GETs.
	for i, l := range lists {
		if l == nil {
			continue
		}
		listed := map[string]bool{}
		for _, k := range l {
			listed[k] = true
			if _, ok := finals[k]; !ok {
				rep.ListDisagree++
				addExample(&rep.ListEx, fmt.Sprintf("n%d lists %s, a key no client wrote", i+1, k))
			}
		}
		for _, key := range keys {
			if i >= len(finals[key]) || finals[key][i] == nil {
				continue
			}
			got, ok := readValue(finals[key][i])
			if !ok {
				continue
			}
			if (got != absent) != listed[key] {
				rep.ListDisagree++
				addExample(&rep.ListEx, fmt.Sprintf("n%d: GET %s says %s but the listing %s it", i+1, key,
					map[bool]string{true: "found", false: "NoSuchKey"}[got != absent], map[bool]string{true: "shows", false: "omits"}[listed[key]]))
			}
		}
	}
	return rep
}

// --- linearizability of the control plane ---

type linInput struct {
	Op   string // create, delete, get
	Name string // bucket/NAME or user/NAME
}

type linOutput struct {
	Res string // ok, exists, missing, unknown
}

// linOp maps a control-plane record to the model's terms; ok is false for a read whose
// answer says nothing (errors): it changes no state, so it is left out.
func linOp(r *opRecord) (in linInput, out linOutput, ok bool) {
	kind := "user/"
	if strings.HasSuffix(r.Op, "Bucket") {
		kind = "bucket/"
	}
	in.Name = kind + r.Key
	switch r.Op {
	case "createBucket", "createUser":
		in.Op = "create"
		switch {
		case r.ack():
			out.Res = "ok"
		case r.Code == "BucketAlreadyOwnedByYou" || r.Code == "BucketAlreadyExists" || r.Code == "EntityAlreadyExists":
			out.Res = "exists"
		default:
			out.Res = "unknown"
		}
	case "deleteBucket", "deleteUser":
		in.Op = "delete"
		switch {
		case r.ack():
			out.Res = "ok"
		case r.Code == "NoSuchBucket" || r.Code == "NoSuchEntity":
			out.Res = "missing"
		default:
			out.Res = "unknown"
		}
	case "headBucket", "getUser":
		in.Op = "get"
		switch {
		case r.ack():
			out.Res = "exists"
		case r.Code == "NoSuchEntity" || r.Code == "NoSuchBucket" || r.Code == "NotFound" || (r.Op == "headBucket" && r.Status == 404):
			out.Res = "missing"
		default:
			return in, out, false
		}
	default:
		return in, out, false
	}
	return in, out, true
}

// linModel: each name exists or not. Create of an existing name answers AlreadyExists,
// delete of a missing one NoSuchEntity/NoSuchBucket, get says which; an unknown outcome
// may or may not have taken effect.
//
// Reads (GetUser, HeadBucket) are checked as linearizable operations like the writes,
// whichever node answers: stronger than DESIGN's read-your-writes per box, and stronger
// than AWS promises (IAM and bucket listings are eventually consistent there). Banyan
// gives it because every IAM call and the bucket-existence reads (HeadBucket,
// ListBuckets, GetBucketLocation, DeleteBucket's lookup) first bring the answering box's
// replica up to the leader's commit index (iam.ReadBarrier), and creates and deletes are
// decided in the FSM; so the model does not relax reads to per-box order.
var linModel = porcupine.NondeterministicModel{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		m := map[string][]porcupine.Operation{}
		var names []string
		for _, op := range h {
			n := op.Input.(linInput).Name
			if _, ok := m[n]; !ok {
				names = append(names, n)
			}
			m[n] = append(m[n], op)
		}
		sort.Strings(names)
		var out [][]porcupine.Operation
		for _, n := range names {
			out = append(out, m[n])
		}
		return out
	},
	Init: func() []any { return []any{false} },
	Step: func(state, input, output any) []any {
		s, in, out := state.(bool), input.(linInput), output.(linOutput)
		switch in.Op {
		case "create":
			switch {
			case out.Res == "ok" && !s:
				return []any{true}
			case out.Res == "exists" && s:
				return []any{true}
			case out.Res == "unknown":
				return []any{true, s}
			}
		case "delete":
			switch {
			case out.Res == "ok" && s:
				return []any{false}
			case out.Res == "missing" && !s:
				return []any{false}
			case out.Res == "unknown":
				return []any{false, s}
			}
		case "get":
			if (out.Res == "exists") == s {
				return []any{s}
			}
		}
		return nil
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(linInput), output.(linOutput)
		return fmt.Sprintf("%s %s -> %s", in.Op, in.Name, out.Res)
	},
	DescribeState: func(state any) string { return map[bool]string{true: "exists", false: "absent"}[state.(bool)] },
}

// linReport is the control plane's linearizability verdict.
type linReport struct {
	Result    string   `json:"result"` // ok, illegal, unknown (checker timed out)
	Ops       int      `json:"ops"`
	Ambiguous int      `json:"ambiguous"`
	Illegal   []string `json:"illegal,omitempty"` // names whose history is not linearizable
	Examples  []string `json:"examples,omitempty"`
}

// toPorcupine turns the control-plane records into porcupine operations, times relative
// to t0; ambiguous ones get an open end.
func toPorcupine(ops []*opRecord, t0 time.Time) ([]porcupine.Operation, map[string][]*opRecord, int) {
	var hist []porcupine.Operation
	byName := map[string][]*opRecord{}
	amb := 0
	clients := map[int]int{}
	for _, r := range ops {
		in, out, ok := linOp(r)
		if !ok {
			continue
		}
		ret := r.End.Sub(t0).Nanoseconds()
		if out.Res == "unknown" {
			ret = math.MaxInt64
			amb++
		}
		client, ok := clients[r.Client]
		if !ok {
			client = len(clients)
			clients[r.Client] = client
		}
		hist = append(hist, porcupine.Operation{ClientId: client, Input: in, Output: out, Call: r.Start.Sub(t0).Nanoseconds(), Return: ret, Metadata: r.ID})
		byName[in.Name] = append(byName[in.Name], r)
	}
	return hist, byName, amb
}

func checkLinearizable(ops []*opRecord, t0 time.Time, timeout time.Duration, visualize string) linReport {
	hist, byName, amb := toPorcupine(ops, t0)
	rep := linReport{Ops: len(hist), Ambiguous: amb}
	model := linModel.ToModel()
	res, info := porcupine.CheckOperationsVerbose(model, hist, timeout)
	switch res {
	case porcupine.Ok:
		rep.Result = "ok"
		return rep
	case porcupine.Unknown:
		rep.Result = "unknown"
	default:
		rep.Result = "illegal"
	}
	if visualize != "" {
		porcupine.VisualizePath(model, info, visualize)
	}
	// Which names, and from which operation on.
	var names []string
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		rs := byName[n]
		h, _, _ := toPorcupine(rs, t0)
		if porcupine.CheckOperationsTimeout(model, h, timeout/4) != porcupine.Illegal {
			continue
		}
		rep.Illegal = append(rep.Illegal, n)
		// The shortest prefix (by start) that is already illegal points at the operation
		// that cannot be placed.
		sorted := append([]*opRecord(nil), rs...)
		sort.Slice(sorted, func(i, j int) bool { return sorted[i].Start.Before(sorted[j].Start) })
		lo, hi := 1, len(sorted)
		for lo < hi {
			mid := (lo + hi) / 2
			hp, _, _ := toPorcupine(sorted[:mid], t0)
			if porcupine.CheckOperationsTimeout(model, hp, timeout/8) == porcupine.Illegal {
				hi = mid
			} else {
				lo = mid + 1
			}
		}
		culprit := sorted[hi-1]
		ex := fmt.Sprintf("%s: %d ops; no linearization once %s is included; before it:", n, len(rs), culprit)
		for _, r := range sorted[max(0, hi-7) : hi-1] {
			ex += "\n      " + r.String()
		}
		addExample(&rep.Examples, ex)
	}
	return rep
}
