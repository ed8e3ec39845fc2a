/**
 * Which workers are cloud nodes, the ones the prepare phase runs on: those carrying the worker's
 * `cloudNodeLabel`, `key=value` (the label has that value) or `key` (the label is present, any
 * value). The default, {@link DEFAULT_CLOUD_NODE_LABEL}, is ACK@Edge's
 * `alibabacloud.com/is-edge-worker=false`; an empty setting turns the phase off. Pure.
 */
import { DEFAULT_CLOUD_NODE_LABEL } from './labels.js';

/** A parsed `cloudNodeLabel`: the label key and, when given, the value it must have. */
export interface CloudNodeSelector {
  key: string;
  value?: string;
}

/** A label key: an optional DNS-subdomain prefix and '/', then a name of at most 63 characters. */
const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
/** A label value: empty, or at most 63 characters of [A-Za-z0-9._-], alphanumeric at both ends. */
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;

/**
 * Parses a `cloudNodeLabel` setting; `undefined` means the default, '' (or only spaces) means no
 * cloud nodes (null). Throws an Error with a one-line message when it is not `key` or `key=value`.
 */
export function parseCloudNodeLabel(setting: string | undefined): CloudNodeSelector | null {
  const s = (setting ?? DEFAULT_CLOUD_NODE_LABEL).trim();
  if (s === '') return null;
  const eq = s.indexOf('=');
  const key = eq < 0 ? s : s.slice(0, eq);
  const value = eq < 0 ? undefined : s.slice(eq + 1);
  if (!LABEL_KEY.test(key) || key.split('/').pop()!.length > 63) {
    throw new Error(`cloudNodeLabel "${s}": "${key}" is not a label key (expected key=value or key, e.g. ${DEFAULT_CLOUD_NODE_LABEL})`);
  }
  if (value !== undefined && !LABEL_VALUE.test(value)) throw new Error(`cloudNodeLabel "${s}": "${value}" is not a label value`);
  return value === undefined ? { key } : { key, value };
}

/** The selector as written in settings and messages: `key=value` or `key`. */
export function formatCloudNodeLabel(sel: CloudNodeSelector): string {
  return sel.value === undefined ? sel.key : `${sel.key}=${sel.value}`;
}

/** True when `labels` carry the selector's label (with its value, when it names one). */
export function isCloudNode(labels: Record<string, string> | undefined, sel: CloudNodeSelector | null): boolean {
  if (!sel || !labels || !(sel.key in labels)) return false;
  return sel.value === undefined || labels[sel.key] === sel.value;
}
