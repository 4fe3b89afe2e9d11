package state

import (
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// CommandType is the first byte of every Raft log entry Banyan writes.
//
// The values are a wire contract: new types are appended, never renumbered or reused.
// A type with IgnoreUnknown set may be skipped by a server too old to know it, so a
// rolling upgrade can introduce optional commands without wedging older servers.
type CommandType uint8

// IgnoreUnknown marks a command type that older servers may skip.
const IgnoreUnknown CommandType = 0x80

// Command types. Append only.
const (
	CmdRegisterNode    CommandType = 1
	CmdSetSetting      CommandType = 2
	CmdDeleteSetting   CommandType = 3
	CmdCreateJoinToken CommandType = 4
	CmdDeleteJoinToken CommandType = 5
	CmdNoop            CommandType = 6 | IgnoreUnknown
	CmdIAMWrite        CommandType = 7
	CmdPutBucket       CommandType = 8
	CmdDeleteBucket    CommandType = 9
	CmdRegisterDisks   CommandType = 10
	CmdSetDiskState    CommandType = 11
	CmdReportBox       CommandType = 12
	CmdRunInstances    CommandType = 13
	CmdSetInstances    CommandType = 14
	CmdReportInstance  CommandType = 15
	CmdPutImage        CommandType = 16
	CmdPutImportTask   CommandType = 17
	CmdPutKeyPair      CommandType = 18
	CmdDeleteKeyPair   CommandType = 19
	CmdTagResources    CommandType = 20
	CmdForgetInstances CommandType = 21
	CmdCreateVolume    CommandType = 30
	CmdDeleteVolume    CommandType = 31
	CmdAttachVolume    CommandType = 32
	CmdDetachVolume    CommandType = 33
	CmdReportVolume    CommandType = 34
	CmdModifyInstance  CommandType = 35
	// EBS volume modifications and attributes (volumemods.go).
	CmdModifyVolume             CommandType = 36
	CmdReportVolumeModification CommandType = 37
	CmdSetVolumeAttribute       CommandType = 38
	// EBS snapshots (snapshots.go).
	CmdCreateSnapshot       CommandType = 40
	CmdReportSnapshot       CommandType = 41
	CmdDeleteSnapshot       CommandType = 42
	CmdSetSnapshotAttribute CommandType = 43
	CmdReportVolumeFilled   CommandType = 44
	// Security groups (securitygroups.go).
	CmdCreateSecurityGroup         CommandType = 50
	CmdDeleteSecurityGroup         CommandType = 51
	CmdAuthorizeSecurityGroupRules CommandType = 52
	CmdRevokeSecurityGroupRules    CommandType = 53
	CmdSetInstanceGroups           CommandType = 54
	CmdEnsureDefaultSecurityGroup  CommandType = 55
	// Boot from volume (blockdevices.go).
	CmdCreateImage            CommandType = 60
	CmdSetDeleteOnTermination CommandType = 61
)

// Command is a typed change to the state.
type Command interface {
	CommandType() CommandType
}

type commandEntry struct {
	name  string
	apply func(tx *Txn, payload []byte) (any, error)
}

var commands = map[CommandType]commandEntry{}

// registerCommand wires a command type to its apply function. It is called from the
// init of the file that owns the command's domain.
func registerCommand[C any, PC interface {
	*C
	Command
}](name string, apply func(tx *Txn, c PC) (any, error)) {
	var zero C
	t := PC(&zero).CommandType()
	if _, dup := commands[t]; dup {
		panic(fmt.Sprintf("state: command type %d registered twice", t))
	}
	commands[t] = commandEntry{name: name, apply: func(tx *Txn, payload []byte) (any, error) {
		c := PC(new(C))
		if err := decMode.Unmarshal(payload, c); err != nil {
			panic(fmt.Sprintf("state: undecodable %s command: %v", name, err))
		}
		return apply(tx, c)
	}}
}

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
)

func init() {
	var err error
	encMode, err = cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err)
	}
	decMode, err = cbor.DecOptions{MaxArrayElements: 1 << 24, MaxMapPairs: 1 << 24}.DecMode()
	if err != nil {
		panic(err)
	}
}

// Encode serializes a command as it is written to the Raft log: type byte then CBOR.
func Encode(c Command) ([]byte, error) {
	b, err := encMode.Marshal(c)
	if err != nil {
		return nil, err
	}
	return append([]byte{byte(c.CommandType())}, b...), nil
}

// Marshal and Unmarshal are the CBOR codec used for command payloads and responses, so
// that callers outside this package (forwarded writes) use the same encoding.
func Marshal(v any) ([]byte, error)   { return encMode.Marshal(v) }
func Unmarshal(b []byte, v any) error { return decMode.Unmarshal(b, v) }
