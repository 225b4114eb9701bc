/** The message to show for anything thrown by an API call. */
export const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error));
