package hypervisor

import "libvirt.org/go/libvirt"

// stateName turns libvirt's state and reason into DomainInfo's words.
func stateName(s libvirt.DomainState, reason int) (state, why string) {
	switch s {
	case libvirt.DOMAIN_RUNNING:
		return "running", pick(reason, runningReasons)
	case libvirt.DOMAIN_BLOCKED:
		return "blocked", ""
	case libvirt.DOMAIN_PAUSED:
		return "paused", pick(reason, pausedReasons)
	case libvirt.DOMAIN_SHUTDOWN:
		return "shutdown", ""
	case libvirt.DOMAIN_SHUTOFF:
		return "shutoff", pick(reason, shutoffReasons)
	case libvirt.DOMAIN_CRASHED:
		return "crashed", pick(reason, map[int]string{int(libvirt.DOMAIN_CRASHED_PANICKED): "panicked"})
	case libvirt.DOMAIN_PMSUSPENDED:
		return "pmsuspended", ""
	}
	return "nostate", ""
}

func pick(r int, m map[int]string) string { return m[r] }

var runningReasons = map[int]string{
	int(libvirt.DOMAIN_RUNNING_BOOTED):             "booted",
	int(libvirt.DOMAIN_RUNNING_MIGRATED):           "migrated",
	int(libvirt.DOMAIN_RUNNING_RESTORED):           "restored",
	int(libvirt.DOMAIN_RUNNING_FROM_SNAPSHOT):      "from_snapshot",
	int(libvirt.DOMAIN_RUNNING_UNPAUSED):           "unpaused",
	int(libvirt.DOMAIN_RUNNING_MIGRATION_CANCELED): "migration_canceled",
	int(libvirt.DOMAIN_RUNNING_SAVE_CANCELED):      "save_canceled",
	int(libvirt.DOMAIN_RUNNING_WAKEUP):             "wakeup",
	int(libvirt.DOMAIN_RUNNING_CRASHED):            "crashed",
}

var pausedReasons = map[int]string{
	int(libvirt.DOMAIN_PAUSED_UNKNOWN):       "unknown",
	int(libvirt.DOMAIN_PAUSED_USER):          "user",
	int(libvirt.DOMAIN_PAUSED_MIGRATION):     "migration",
	int(libvirt.DOMAIN_PAUSED_SAVE):          "save",
	int(libvirt.DOMAIN_PAUSED_DUMP):          "dump",
	int(libvirt.DOMAIN_PAUSED_IOERROR):       "ioerror",
	int(libvirt.DOMAIN_PAUSED_WATCHDOG):      "watchdog",
	int(libvirt.DOMAIN_PAUSED_FROM_SNAPSHOT): "from_snapshot",
	int(libvirt.DOMAIN_PAUSED_SHUTTING_DOWN): "shutting_down",
	int(libvirt.DOMAIN_PAUSED_SNAPSHOT):      "snapshot",
	int(libvirt.DOMAIN_PAUSED_CRASHED):       "crashed",
	int(libvirt.DOMAIN_PAUSED_STARTING_UP):   "starting_up",
}

var shutoffReasons = map[int]string{
	int(libvirt.DOMAIN_SHUTOFF_UNKNOWN):       "unknown",
	int(libvirt.DOMAIN_SHUTOFF_SHUTDOWN):      "shutdown",
	int(libvirt.DOMAIN_SHUTOFF_DESTROYED):     "destroyed",
	int(libvirt.DOMAIN_SHUTOFF_CRASHED):       "crashed",
	int(libvirt.DOMAIN_SHUTOFF_MIGRATED):      "migrated",
	int(libvirt.DOMAIN_SHUTOFF_SAVED):         "saved",
	int(libvirt.DOMAIN_SHUTOFF_FAILED):        "failed",
	int(libvirt.DOMAIN_SHUTOFF_FROM_SNAPSHOT): "from_snapshot",
	int(libvirt.DOMAIN_SHUTOFF_DAEMON):        "daemon",
}
