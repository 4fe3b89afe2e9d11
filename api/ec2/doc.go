// Package ec2 is the EC2 front end: it turns EC2 actions (instances, images and their
// imports, key pairs, tags, zones) into reads of the local replica and intents written
// through Raft (cluster/state). It never runs a VM itself: the agent of the box an
// instance is placed on converges to the intent (node/instances.go) and reports back.
// types_gen.go is generated from the botocore model by api/gen.
package ec2
