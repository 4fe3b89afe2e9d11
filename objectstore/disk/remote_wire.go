package disk

import (
	"errors"
	"net/http"
	"strconv"
	"time"
)

// The disk RPC protocol, served by NewHandler and spoken by Remote. It is
// HTTP/1.1 (node RPC's mutual-TLS port in production) under RPCPrefix:
//
//	POST <RPCPrefix><disk id>/<op>          CBOR wireReq -> CBOR wireResp
//	PUT  <RPCPrefix><disk id>/createfile?bucket=&path=&size=   body: the file
//	GET  <RPCPrefix><disk id>/readfile?bucket=&object=&datadir=&part=&offset=&length=
//	POST <RPCPrefix><disk id>/walk          CBOR wireReq -> CBOR sequence of walkItem
//
// liststaged is one of the CBOR operations: a page of ListStagedUploads
// answers in wireResp.Names, bounded (maxStagedList) to fit a message.
//
// A failed call answers a non-200 status and a CBOR wireErr: the codes of
// every sentinel the error matched and the message for logs. The caller's
// remaining deadline travels in timeoutHeader so the server stops work the
// caller has given up on even before the connection drops.

// RPCPrefix is the path under which NewHandler serves and Remote calls.
const RPCPrefix = "/v1/disk/"

const (
	timeoutHeader = "Banyan-Timeout" // milliseconds the caller will wait
	cborType      = "application/cbor"
	cborSeqType   = "application/cbor-seq"
	// maxRPCMessage bounds a CBOR request or response: metadata with inline
	// data is the largest.
	maxRPCMessage = maxMetaSize + 1<<20
)

// RPC operation names (the last path element).
const (
	opInfo          = "info"
	opMakeVolume    = "makevol"
	opDeleteVolume  = "delvol"
	opStatVolume    = "statvol"
	opListVolumes   = "listvols"
	opReadMetadata  = "readmeta"
	opWriteMetadata = "writemeta"
	opDeleteObject  = "delobj"
	opDeleteVersion = "delversion"
	opDeleteTmp     = "deltmp"
	opListStaged    = "liststaged"
	opRenameData    = "renamedata"
	opUndoRename    = "undorename"
	opUndoDelete    = "undodelversion"
	opStatFile      = "statfile"
	opVerifyFile    = "verifyfile"
	opCreateFile    = "createfile"
	opReadFile      = "readfile"
	opWalk          = "walk"
)

// wireReq carries the arguments of every CBOR operation; each uses the
// fields it needs. Field numbers are the protocol: append, never reuse.
type wireReq struct {
	Bucket     string       `cbor:"1,keyasint,omitempty"`
	Object     string       `cbor:"2,keyasint,omitempty"`
	Path       string       `cbor:"3,keyasint,omitempty"` // staging path
	VersionID  string       `cbor:"4,keyasint,omitempty"`
	DataDir    string       `cbor:"5,keyasint,omitempty"`
	Part       int          `cbor:"6,keyasint,omitempty"`
	Force      bool         `cbor:"7,keyasint,omitempty"`
	Meta       *ObjectMeta  `cbor:"8,keyasint,omitempty"`
	Version    *Version     `cbor:"9,keyasint,omitempty"`
	Scheme     *ErasureInfo `cbor:"10,keyasint,omitempty"` // Data, Parity, BlockSize
	Size       int64        `cbor:"11,keyasint,omitempty"`
	Prefix     string       `cbor:"12,keyasint,omitempty"`
	StartAfter string       `cbor:"13,keyasint,omitempty"`
	Max        int          `cbor:"14,keyasint,omitempty"`
}

type wireResp struct {
	Info    *Info        `cbor:"1,keyasint,omitempty"`
	Volume  *VolumeInfo  `cbor:"2,keyasint,omitempty"`
	Volumes []VolumeInfo `cbor:"3,keyasint,omitempty"`
	Meta    *ObjectMeta  `cbor:"4,keyasint,omitempty"`
	Size    int64        `cbor:"5,keyasint,omitempty"`
	Names   []string     `cbor:"6,keyasint,omitempty"`
}

type wireErr struct {
	Codes   []string `cbor:"1,keyasint,omitempty"`
	Message string   `cbor:"2,keyasint,omitempty"`
}

// walkItem is one element of a walk's response stream. The stream always
// ends with Done, so a cut connection is never mistaken for the end of the
// listing.
type walkItem struct {
	Object string      `cbor:"1,keyasint,omitempty"`
	Meta   *ObjectMeta `cbor:"2,keyasint,omitempty"`
	Done   bool        `cbor:"3,keyasint,omitempty"`
	Err    *wireErr    `cbor:"4,keyasint,omitempty"`
	// Corrupt marks an object whose metadata is unreadable on the disk
	// (Meta nil), so it is not confused with an omitted field.
	Corrupt bool `cbor:"5,keyasint,omitempty"`
}

func toWireErr(err error) *wireErr {
	if err == nil {
		return nil
	}
	return &wireErr{Codes: codesOf(err), Message: err.Error()}
}

func (e *wireErr) err() error {
	if e == nil {
		return nil
	}
	return errorFromCodes(e.Codes, e.Message)
}

// httpStatus is the status a failed call answers with; it is for people
// reading logs and proxies, the codes are what the client acts on.
func httpStatus(err error) int {
	switch {
	case errors.Is(err, ErrFileNotFound), errors.Is(err, ErrVolumeNotFound),
		errors.Is(err, ErrVersionNotFound), errors.Is(err, ErrDiskNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrInvalidArgument), errors.Is(err, ErrSizeMismatch), errors.Is(err, ErrFileNameTooLong):
		return http.StatusBadRequest
	case errors.Is(err, ErrVolumeExists), errors.Is(err, ErrVolumeNotEmpty):
		return http.StatusConflict
	case errors.Is(err, ErrDiskFull):
		return http.StatusInsufficientStorage
	case errors.Is(err, ErrDiskOffline):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func formatTimeout(d time.Duration) string {
	return strconv.FormatInt(max(d.Milliseconds(), 1), 10)
}

func parseTimeout(s string) (time.Duration, bool) {
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil || ms <= 0 {
		return 0, false
	}
	return time.Duration(ms) * time.Millisecond, true
}
