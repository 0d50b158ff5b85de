import type { TSchema } from '@sinclair/typebox';
import Ajv, { type ErrorObject } from 'ajv';

/**
 * Compiles a TypeBox schema into a checker for one input file: it fills the schema's defaults in
 * place and returns every problem as "/json/pointer: message", so a message names the bad field.
 * The scenario, the sim:check baseline and the multipliers file all go through it: one way to
 * validate a file in the simulator.
 */
export function schemaChecker(schema: TSchema): (data: unknown) => string[] {
  let validate: ReturnType<Ajv['compile']> | null = null;
  return (data) => {
    // Compiled on first use: importing a module that declares a checker costs nothing.
    validate ??= new Ajv({ allErrors: true, strict: true, allowUnionTypes: true, useDefaults: true }).compile(
      schema,
    );
    return validate(data) ? [] : (validate.errors ?? []).map(describe);
  };
}

function describe(e: ErrorObject): string {
  const path = e.instancePath === '' ? '/' : e.instancePath;
  if (e.keyword === 'additionalProperties')
    return `${path}: unknown field "${(e.params as { additionalProperty: string }).additionalProperty}"`;
  if (e.keyword === 'enum')
    return `${path}: ${e.message} (${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')})`;
  return `${path}: ${e.message}`;
}
