/** A mistake in the command line or the configuration: reported in one line, exit status 2. */
export class UsageError extends Error {
	constructor(message: string) {
		super(message);
		this.name = "UsageError";
	}
}
