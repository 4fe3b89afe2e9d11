package hypervisor

import (
	"errors"
	"fmt"

	"libvirt.org/go/libvirt"
)

// Sentinels that callers map to API errors; returned errors wrap them (errors.Is).
var (
	// ErrDomainNotFound: no domain of that name on this box.
	ErrDomainNotFound = errors.New("hypervisor: domain not found")
	// ErrHypervisorDown: libvirtd cannot be reached (not running, socket gone, connection lost).
	ErrHypervisorDown = errors.New("hypervisor: libvirtd unreachable")
	// ErrInvalidState: the operation does not fit the domain's state (start a running domain,
	// shut down a stopped one).
	ErrInvalidState = errors.New("hypervisor: operation invalid in the domain's state")
	// ErrConflict: a domain of that name exists with another UUID (or that UUID has another name).
	ErrConflict = errors.New("hypervisor: domain conflicts with an existing one")
	// ErrInvalidSpec: the DomainSpec cannot be turned into a domain.
	ErrInvalidSpec = errors.New("hypervisor: invalid domain spec")
	// ErrNoProbeImage: Probe in auto mode needs Config.ProbeImage to boot.
	ErrNoProbeImage = errors.New("hypervisor: no probe image configured")
)

// mapErr wraps a libvirt error in the matching sentinel, keeping libvirt's message.
func mapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	var le libvirt.Error
	if !errors.As(err, &le) {
		return fmt.Errorf("hypervisor: %s: %w", op, err)
	}
	var s error
	switch {
	case le.Code == libvirt.ERR_NO_DOMAIN:
		s = ErrDomainNotFound
	case isDown(le):
		s = ErrHypervisorDown
	case le.Code == libvirt.ERR_OPERATION_INVALID:
		s = ErrInvalidState
	case le.Code == libvirt.ERR_DOM_EXIST:
		s = ErrConflict
	case le.Code == libvirt.ERR_XML_ERROR, le.Code == libvirt.ERR_XML_DETAIL,
		le.Code == libvirt.ERR_CONFIG_UNSUPPORTED, le.Code == libvirt.ERR_INVALID_ARG:
		s = ErrInvalidSpec
	default:
		return fmt.Errorf("hypervisor: %s: %s", op, le.Message)
	}
	return fmt.Errorf("%w: %s: %s", s, op, le.Message)
}

// isDown tells the errors that mean the connection to libvirtd is gone (or never was).
func isDown(le libvirt.Error) bool {
	switch le.Code {
	case libvirt.ERR_NO_CONNECT, libvirt.ERR_INVALID_CONN:
		return true
	case libvirt.ERR_SYSTEM_ERROR, libvirt.ERR_RPC, libvirt.ERR_INTERNAL_ERROR:
		return le.Domain == libvirt.FROM_RPC || le.Domain == libvirt.FROM_REMOTE
	}
	return false
}
