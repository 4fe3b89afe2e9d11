package state

// CodeOperationNotPermitted: the resource's own settings refuse the action
// (termination protection).
const CodeOperationNotPermitted Code = "OperationNotPermitted"

// ModifyInstance changes an instance's attributes (ModifyInstanceAttribute). The
// instance type and user data change only while the instance is stopped, as in EC2;
// nil fields are left as they are.
type ModifyInstance struct {
	Account               string
	ID                    string
	InstanceType          *string
	VCPUs, MemoryMiB      int
	UserData              *[]byte
	DisableAPITermination *bool
}

func (*ModifyInstance) CommandType() CommandType { return CmdModifyInstance }

func init() {
	registerCommand("ModifyInstance", applyModifyInstance)
}

func applyModifyInstance(tx *Txn, c *ModifyInstance) (any, error) {
	obj, err := tx.First(tableInstances, "id", c.ID)
	if err != nil {
		return nil, err
	}
	if obj == nil || obj.(*Instance).Account != c.Account {
		return nil, Errorf(CodeNotFound, "The instance ID '%s' does not exist", c.ID)
	}
	in := *obj.(*Instance)
	if in.State == InstanceTerminated || in.State == InstanceShuttingDown {
		return nil, Errorf(CodeIncorrectState, "The instance '%s' is terminated.", c.ID)
	}
	if (c.InstanceType != nil || c.UserData != nil) && (in.State != InstanceStopped || in.Desired != InstanceStopped) {
		return nil, Errorf(CodeIncorrectState, "The instance '%s' is not in the 'stopped' state.", c.ID)
	}
	if c.InstanceType != nil {
		in.InstanceType, in.VCPUs, in.MemoryMiB = *c.InstanceType, c.VCPUs, c.MemoryMiB
	}
	if c.UserData != nil {
		in.UserData = *c.UserData
	}
	if c.DisableAPITermination != nil {
		in.DisableAPITermination = *c.DisableAPITermination
	}
	in.ModifyIndex = tx.Index
	return nil, tx.Insert(tableInstances, &in)
}
