// Package state owns the cloud's replicated state: the tables every service keeps through
// Raft (accounts, IAM, buckets, boxes and disks, ...), the typed append-only commands that
// change them, and the FSM that applies those commands.
//
// Tables live in an in-memory MVCC database (hashicorp/go-memdb), so a read sees a
// consistent snapshot without locks and a Raft snapshot is O(1) to take. Each domain
// registers its tables and the apply functions of its commands from its own file
// (nodes.go, settings.go, tokens.go, ...); there is no central switch.
//
// Rules every apply function follows: it does no I/O outside the transaction it is
// given; it never mutates an object read from the database (objects are shared with
// readers) but inserts a modified copy; domain failures are returned as *Error and become
// the command's response, never a panic. Apply panics only on bytes it cannot decode,
// which means a corrupt log.
package state
