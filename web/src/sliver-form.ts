// The create-sliver form's values and the checks it makes before sending,
// the same rules as src/model/sliver.ts (names, RESOURCE_BOUNDS), so a value
// the API would refuse is refused here first.

export interface SliverDraft {
  name: string;
  template: string;
  cpu: string;
  memoryMb: string;
  diskMb: string;
}

export type SliverField = keyof SliverDraft;
export type FieldErrors = Partial<Record<SliverField, string>>;

/** src/model/sliver.ts DEFAULT_RESOURCES. */
export const NEW_SLIVER: SliverDraft = { name: '', template: 'busybox', cpu: '0.5', memoryMb: '128', diskMb: '256' };
export const TEMPLATES = ['busybox', 'debian'];

const NAME_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const BOUNDS = {
  cpu: { min: 0.01, max: 256, whole: false, unit: 'cores' },
  memoryMb: { min: 16, max: 1024 * 1024, whole: true, unit: 'MB' },
  diskMb: { min: 16, max: 64 * 1024 * 1024, whole: true, unit: 'MB' },
} as const;

/** Problems the API reports without a field that concern one. */
const FIELD_OF_CODE: Record<string, SliverField> = { invalid_name: 'name', name_taken: 'name', unknown_template: 'template' };

export function fieldOfProblem(code: string, field: string | undefined): SliverField | undefined {
  if (field !== undefined) return field in NEW_SLIVER ? (field as SliverField) : undefined;
  return FIELD_OF_CODE[code];
}

export function checkDraft(d: SliverDraft): FieldErrors {
  const errors: FieldErrors = {};
  if (!NAME_RE.test(d.name)) errors.name = '1-63 lower-case letters, digits or inner hyphens (not first or last).';
  if (!TEMPLATES.includes(d.template)) errors.template = `One of ${TEMPLATES.join(', ')}.`;
  for (const key of ['cpu', 'memoryMb', 'diskMb'] as const) {
    const { min, max, whole, unit } = BOUNDS[key];
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
