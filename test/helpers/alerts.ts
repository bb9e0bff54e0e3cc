/**
 * The alert names fixed by issues 17 and 18 (the last three: clustered mode): config/prometheus/alerts.yml defines each, and
 * docs/operations.md has a section for each (anchor = the name in lower case).
 */
export const ALERTS = [
  'DrproxyDown',
  'DrproxyTenantFrozen',
  'DrproxyFailoverOverRTO',
  'DrproxyTenantNotOnPreferredSite',
  'DrproxySiteUnavailable',
  'DrproxySiteStale',
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
] as const;
