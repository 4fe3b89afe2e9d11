package ec2

// instanceType is one entry of the catalog of instance types Banyan offers, with AWS's
// sizes for them.
type instanceType struct {
	Name      string
	VCPUs     int
	MemoryMiB int
}

var instanceTypes = []instanceType{
	{"m1.small", 1, 1740}, // EC2's default when RunInstances names no type
	{"t2.nano", 1, 512}, {"t2.micro", 1, 1024}, {"t2.small", 1, 2048}, {"t2.medium", 2, 4096},
	{"t3.nano", 2, 512}, {"t3.micro", 2, 1024}, {"t3.small", 2, 2048}, {"t3.medium", 2, 4096}, {"t3.large", 2, 8192},
	{"m5.large", 2, 8192}, {"m5.xlarge", 4, 16384}, {"c5.large", 2, 4096},
}

func lookupInstanceType(name string) (instanceType, bool) {
	for _, t := range instanceTypes {
		if t.Name == name {
			return t, true
		}
	}
	return instanceType{}, false
}
