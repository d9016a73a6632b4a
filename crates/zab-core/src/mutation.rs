//! Switchable defects that reproduce historical ZooKeeper bugs (reference §5), so the simulator
//! can show its checkers find them. Compiled only with the `mutations` feature; without it the
//! replica has no mutation state and no branch tests one.

/// One defect, named after its JIRA issue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mutation {
    /// ZOOKEEPER-2845: skip the fast-forward of memory from the log when leaving a role, so the
    /// zxid a server advertises can be lower than what its log holds.
    Zk2845,
    /// ZOOKEEPER-1277: let the zxid counter wrap into the epoch bits instead of forcing a new
    /// epoch before it is exhausted.
    Zk1277,
}

impl Mutation {
    /// Every mutation of the server core.
    pub const ALL: &'static [Mutation] = &[Mutation::Zk2845, Mutation::Zk1277];

    /// The JIRA name, e.g. `ZK-2845`.
    pub fn name(self) -> &'static str {
        match self {
            Mutation::Zk2845 => "ZK-2845",
            Mutation::Zk1277 => "ZK-1277",
        }
    }

    /// Parses a JIRA name (`ZK-2845` or `ZOOKEEPER-2845`).
    pub fn parse(name: &str) -> Option<Mutation> {
        let n = name.trim().to_ascii_uppercase().replace("ZOOKEEPER-", "ZK-");
        Mutation::ALL.iter().copied().find(|m| m.name() == n)
    }
}

impl crate::replica::Replica {
    /// Switches a defect on (or off) for this replica.
    pub fn set_mutation(&mut self, mutation: Mutation, on: bool) {
        if on {
            self.mutations.insert(mutation);
        } else {
            self.mutations.remove(&mutation);
        }
    }

    pub(crate) fn mutation_on(&self, mutation: Mutation) -> bool {
        self.mutations.contains(&mutation)
    }
}
