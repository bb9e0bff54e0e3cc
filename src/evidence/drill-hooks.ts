/**
 * The evidence hooks the drill service calls (DrillServiceDeps.finish and .markdown): a final
 * report names the audit chain's head and is signed when drills.signing_key_file is set; its
 * Markdown form is rendered and, once the report is final, signed the same way. The key is read
 * through a getter, so that a reload that replaced it (key rotation) is used from then on.
 */
import type { AnyDrillReport, AuditRef } from '../drill/types.js';
import { renderReportMarkdown } from '../drill/report-markdown.js';
import { signMarkdown } from './markdown-signature.js';
import { finishReport, type SigningKey } from './signature.js';

export interface EvidenceHooks {
  finish<T extends AnyDrillReport>(report: T): T;
  markdown(report: AnyDrillReport): string;
}

export function evidenceHooks(src: { key(): SigningKey | undefined; auditHead(): AuditRef | undefined }): EvidenceHooks {
  return {
    finish: (report) => finishReport(report, { key: src.key(), auditHead: src.auditHead() }),
    markdown: (report) => {
      const text = renderReportMarkdown(report);
      const key = src.key();
      // A running report changes again: only a final one is signed.
      return key && report.status !== 'running' ? signMarkdown(text, key) : text;
    },
  };
}
