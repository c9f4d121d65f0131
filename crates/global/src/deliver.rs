//! The delivery agent side of the qmgr protocol, shared by every agent.
