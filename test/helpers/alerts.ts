/**
 * The alert names fixed by issues 17, 18 (the last three: clustered mode) and 19 (DrproxyStandbyNotReady): config/prometheus/alerts.yml defines each, and
 * docs/operations.md has a section for each (anchor = the name in lower case).
 */
export const ALERTS = [
  'DrproxyDown',
  'DrproxyTenantFrozen',
  'DrproxyFailoverOverRTO',
  'DrproxyTenantNotOnPreferredSite',
  'DrproxySiteUnavailable',
  'DrproxySiteStale',
  'DrproxyStandbyNotReady',
  'DrproxyBackendDown',
  'DrproxyOverloaded',
  'DrproxyStateCommitFailing',
  'DrproxyConfigReloadFailed',
  'DrproxyAuditRecordsDropped',
  'DrproxyConnectionsRefused',
  'DrproxyNoLeader',
  'DrproxyReplicaLostEtcd',
  'DrproxyAcksSlow',
  // Issue 19: scheduled drills.
  'DrproxyDrillOverdue',
  // Issue 20: safety rules.
  'DrproxySafetyBreakerTripped',
  'DrproxyAutomaticFailoverOff',
  // Issue 22: TLS listeners.
  'DrproxyTlsCertExpiring',
] as const;
