//! The inner step of `sandbox-exec`: apply a [`Policy`] to this process with Landlock, then
//! exec the agent, which inherits the domain (and so does everything it starts).
//!
//! The ruleset asks for ABI 6 (files, TCP connect, signal and abstract-socket scoping) in the
//! crate's best-effort mode, so an older kernel enforces what it has; the status says what held.
//! `no_new_privs` is set with it, so no setuid program can lift the restrictions.

use landlock::{
    ABI, Access, AccessFs, AccessNet, LandlockStatus, NetPort, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus,
    Scope, path_beneath_rules,
};

use super::{Policy, Support};

/// The newest ABI whose rights this program asks for.
const ABI_USED: ABI = ABI::V6;

/// What held after the ruleset was applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enforcement {
    /// Every restriction asked for is enforced.
    Full,
    /// Some are (an older kernel); the rest is missing.
    Partial,
    /// None is: the kernel has no Landlock.
    None,
}

/// Applies `policy` to this process (and so to what it execs); `Err` says why it could not.
pub fn confine(policy: &Policy) -> Result<Enforcement, String> {
    let status = ruleset(policy).map_err(|error| format!("building the Landlock ruleset failed: {error}"))?;
    Ok(match status {
        RulesetStatus::FullyEnforced => Enforcement::Full,
        RulesetStatus::PartiallyEnforced => Enforcement::Partial,
        RulesetStatus::NotEnforced => Enforcement::None,
    })
}

fn ruleset(policy: &Policy) -> Result<RulesetStatus, landlock::RulesetError> {
    let abi = ABI_USED;
    let ports =
        policy.ports.iter().map(|&port| Ok::<_, landlock::RulesetError>(NetPort::new(port, AccessNet::ConnectTcp)));
    let status = Ruleset::default()
        .handle_access(AccessFs::from_all(abi))?
        .handle_access(AccessNet::ConnectTcp)?
        .scope(Scope::from_all(abi))?
        .create()?
        .add_rules(path_beneath_rules(&policy.read, AccessFs::from_read(abi)))?
        .add_rules(path_beneath_rules(&policy.write, AccessFs::from_all(abi)))?
        .add_rules(path_beneath_rules(&policy.devices, AccessFs::from_all(abi)))?
        .add_rules(ports)?
        .restrict_self()?;
    Ok(status.ruleset)
}

/// Confines this process with an empty policy and reports what the kernel enforced; run in a
/// throwaway `sandbox-exec --probe` child, never in the runner.
pub fn probe_self() -> Support {
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or_else(|_| "unknown".to_owned(), |text| text.trim().to_owned());
    let applied = Ruleset::default()
        .handle_access(AccessFs::from_all(ABI_USED))
        .and_then(|ruleset| ruleset.create())
        .and_then(|ruleset| ruleset.add_rules(path_beneath_rules(["/"], AccessFs::from_read(ABI_USED))))
        .and_then(|ruleset| ruleset.restrict_self());
    match applied {
        Ok(status) => match status.landlock {
            LandlockStatus::Available { effective_abi, kernel_abi } => {
                let abi = kernel_abi.and_then(|abi| u8::try_from(abi).ok()).unwrap_or(effective_abi as u8);
                Support { abi, kernel, reason: None }
            }
            LandlockStatus::NotEnabled => Support {
                abi: 0,
                kernel,
                reason: Some("Landlock is built into the kernel but not enabled at boot".to_owned()),
            },
            LandlockStatus::NotImplemented => {
                Support { abi: 0, kernel, reason: Some("the kernel has no Landlock".to_owned()) }
            }
        },
        Err(error) => Support { abi: 0, kernel, reason: Some(format!("applying a Landlock ruleset failed: {error}")) },
    }
}
