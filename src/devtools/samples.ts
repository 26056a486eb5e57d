/**
 * Entry point of the `dist/devtools/samples.js` bundle: the demo's sample generator and the DICOM
 * writer with its encoders. Built beside the CLI for `npm run demo`, kept out of the .vsix (only
 * decoders ship): the CLI loads it at run time and says what to do when it is not there.
 */
export { generateSamples, sampleGeneratorVersion, type SampleSet } from "./generateSamples";
