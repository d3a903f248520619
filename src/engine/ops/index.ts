/** Every differentiable op of the engine, by family. */
export * from './linalg.js';
export * from './elementwise.js';
export * from './shape.js';
export * from './reduce.js';
export * from './softmax.js';
export * from './norm.js';
export * from './loss.js';
export * from './activation.js';
export * from './embedding.js';
export * from './fused.js';
export * from './simtier.js';
