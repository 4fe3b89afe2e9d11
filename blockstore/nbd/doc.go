// Package nbd is the NBD server that exports EBS volumes to the local qemu: the fixed
// newstyle handshake and the transmission phase of the NBD protocol
// (https://github.com/NetworkBlockDevice/nbd/blob/master/doc/proto.md), with simple replies
// only, over any net.Listener (TCP port 10809 or a unix socket).
//
// The server owns the wire; storage lives behind Backend, one per export, found by name
// through Server.Lookup. FileBackend serves a local file or block device and is the local
// replica's building block.
//
// # What a client can rely on
//
//   - Requests on one connection run concurrently (at most Server.MaxInFlight of them,
//     holding at most Server.MaxBufferBytes of payload); replies are written whole, one at
//     a time, in completion order.
//   - A write is acknowledged once Backend.WriteAt returns; with NBD_CMD_FLAG_FUA, once it
//     is durable. NBD_CMD_FLUSH is answered after Backend.Flush returns, and Flush is
//     called only after every write-type request received earlier on the connection has
//     completed, a stronger promise than the protocol's (which covers only writes already
//     replied to) that costs nothing a well-behaved client would notice.
//   - Errors travel as the protocol's errno values (Errno): EINVAL for reads and trims
//     outside the export, over-long payloads, misaligned requests and unknown commands or
//     flags; ENOSPC for writes outside the export; EPERM on a read-only export; ESHUTDOWN
//     while the server shuts down.
//   - Shutdown stops accepting, answers every request already read, flushes each export
//     that was written, and closes each connection at a request boundary.
package nbd
