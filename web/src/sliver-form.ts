// The create-sliver form's values and the checks it makes before sending,
// with the API's own rules (src/model/sliver.ts: names, RESOURCE_BOUNDS,
// defaults), so a value the API would refuse is refused here first.

import { DEFAULT_RESOURCES, RESOURCE_BOUNDS, TEMPLATES as MODEL_TEMPLATES, validateName } from '../../src/model/sliver.js';

export interface SliverDraft {
  name: string;
  template: string;
  cpu: string;
  memoryMb: string;
  diskMb: string;
}

export type SliverField = keyof SliverDraft;
export type FieldErrors = Partial<Record<SliverField, string>>;

const { cpu, memoryMb, diskMb } = DEFAULT_RESOURCES;
export const NEW_SLIVER: SliverDraft = { name: '', template: 'busybox', cpu: String(cpu), memoryMb: String(memoryMb), diskMb: String(diskMb) };
export const TEMPLATES: readonly string[] = MODEL_TEMPLATES;

const UNITS = { cpu: { whole: false, unit: 'cores' }, memoryMb: { whole: true, unit: 'MB' }, diskMb: { whole: true, unit: 'MB' } } as const;

/** The form field a problem of the API concerns, when it names one the form has. */
export function fieldOfProblem(field: string | undefined): SliverField | undefined {
  return field !== undefined && field in NEW_SLIVER ? (field as SliverField) : undefined;
}

export function checkDraft(d: SliverDraft): FieldErrors {
  const errors: FieldErrors = {};
  try {
    validateName('sliver', d.name);
  } catch {
    errors.name = '1-63 lower-case letters, digits or inner hyphens (not first or last).';
  }
  if (!TEMPLATES.includes(d.template)) errors.template = `One of ${TEMPLATES.join(', ')}.`;
  for (const key of ['cpu', 'memoryMb', 'diskMb'] as const) {
    const { min, max } = RESOURCE_BOUNDS[key];
    const { whole, unit } = UNITS[key];
    const text = d[key].trim();
    const n = Number(text);
    if (text === '' || !Number.isFinite(n) || n < min || n > max || (whole && !Number.isInteger(n))) {
      errors[key] = `${whole ? 'A whole number' : 'A number'} of ${unit} from ${min} to ${max}.`;
    }
  }
  return errors;
}

export function bodyOf(d: SliverDraft): { name: string; template: string; resources: { cpu: number; memoryMb: number; diskMb: number } } {
  return { name: d.name, template: d.template, resources: { cpu: Number(d.cpu), memoryMb: Number(d.memoryMb), diskMb: Number(d.diskMb) } };
}
