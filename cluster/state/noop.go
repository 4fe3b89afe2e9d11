package state

// Noop is a command that changes nothing; a new leader commits one to learn its commit
// index, and tests use it to measure raw commit latency.
type Noop struct{}

func (*Noop) CommandType() CommandType { return CmdNoop }

func init() {
	registerCommand("Noop", func(tx *Txn, c *Noop) (any, error) { return nil, nil })
}
