package nbd

// Wire constants of the NBD protocol, named as in doc/proto.md. All integers on the wire
// are big-endian.

// Magic numbers.
const (
	magicNBD          uint64 = 0x4e42444d41474943 // "NBDMAGIC", first thing the server sends
	magicIHaveOpt     uint64 = 0x49484156454F5054 // "IHAVEOPT", newstyle; also starts each option
	magicOptionReply  uint64 = 0x0003e889045565a9 // starts each fixed-newstyle option reply
	magicRequest      uint32 = 0x25609513
	magicSimpleReply  uint32 = 0x67446698
	magicExtendedReq  uint32 = 0x21e41c71 // extended headers, never negotiated here
	requestHeaderSize        = 28
	replyHeaderSize          = 16
	optionHeaderSize         = 16 // magic, option, length
	zeroPadSize              = 124
)

// Handshake flags (server, 16 bits) and client flags (32 bits).
const (
	flagFixedNewstyle   uint16 = 1 << 0
	flagNoZeroes        uint16 = 1 << 1
	clientFixedNewstyle uint32 = 1 << 0
	clientNoZeroes      uint32 = 1 << 1
)

// Transmission flags (16 bits), sent with the export's size.
const (
	tflagHasFlags     uint16 = 1 << 0
	tflagReadOnly     uint16 = 1 << 1
	tflagSendFlush    uint16 = 1 << 2
	tflagSendFUA      uint16 = 1 << 3
	tflagRotational   uint16 = 1 << 4
	tflagSendTrim     uint16 = 1 << 5
	tflagWriteZeroes  uint16 = 1 << 6
	tflagSendDF       uint16 = 1 << 7
	tflagCanMultiConn uint16 = 1 << 8
)

// Options a client may send during haggling.
const (
	optExportName      uint32 = 1
	optAbort           uint32 = 2
	optList            uint32 = 3
	optPeekExport      uint32 = 4
	optStartTLS        uint32 = 5
	optInfo            uint32 = 6
	optGo              uint32 = 7
	optStructuredReply uint32 = 8
	optListMetaContext uint32 = 9
	optSetMetaContext  uint32 = 10
	optExtendedHeaders uint32 = 11
)

// Option reply types; errors have bit 31 set.
const (
	repAck           uint32 = 1
	repServer        uint32 = 2
	repInfo          uint32 = 3
	repErrUnsup      uint32 = 1<<31 + 1
	repErrPolicy     uint32 = 1<<31 + 2
	repErrInvalid    uint32 = 1<<31 + 3
	repErrPlatform   uint32 = 1<<31 + 4
	repErrTLSReqd    uint32 = 1<<31 + 5
	repErrUnknown    uint32 = 1<<31 + 6
	repErrShutdown   uint32 = 1<<31 + 7
	repErrBlockSize  uint32 = 1<<31 + 8
	repErrTooBig     uint32 = 1<<31 + 9
	repErrExtHdrReqd uint32 = 1<<31 + 10
)

// Information types of NBD_OPT_INFO and NBD_OPT_GO.
const (
	infoExport      uint16 = 0
	infoName        uint16 = 1
	infoDescription uint16 = 2
	infoBlockSize   uint16 = 3
)

// Commands of the transmission phase.
const (
	cmdRead        uint16 = 0
	cmdWrite       uint16 = 1
	cmdDisc        uint16 = 2
	cmdFlush       uint16 = 3
	cmdTrim        uint16 = 4
	cmdCache       uint16 = 5
	cmdWriteZeroes uint16 = 6
	cmdBlockStatus uint16 = 7
)

// Command flags.
const (
	cmdFlagFUA      uint16 = 1 << 0
	cmdFlagNoHole   uint16 = 1 << 1
	cmdFlagDF       uint16 = 1 << 2
	cmdFlagReqOne   uint16 = 1 << 3
	cmdFlagFastZero uint16 = 1 << 4
)

// Size constraints this server advertises with NBD_INFO_BLOCK_SIZE.
const (
	// MinBlockSize is the advertised minimum block size (when the export's size is a
	// multiple of it; otherwise 1, so the last bytes stay reachable).
	MinBlockSize = 512
	// PreferredBlockSize is the advertised preferred block size.
	PreferredBlockSize = 4096
	// MaxPayload is the largest READ or WRITE payload accepted (2^25, the protocol's
	// portable maximum). Longer requests get EINVAL.
	MaxPayload = 32 << 20
)

// Limits of the handshake, against clients that would make the server hold memory or
// loop forever.
const (
	maxStringLen    = 4096      // export names and other strings, per the spec
	maxOptionData   = 64 << 10  // larger option payloads are skipped and refused as too big
	maxOptionSkip   = 16 << 20  // beyond this an option payload is not worth skipping: hang up
	maxOptions      = 1024      // options in one handshake before the client counts as abusive
	maxWriteDiscard = 128 << 20 // oversize WRITE payloads up to this are skipped, not hung up on
)
