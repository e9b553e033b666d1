import Testing

@Suite struct HelpTests {
    @Test func topLevelHelpListsSubcommands() throws {
        let result = try CTPipeBinary.run(["--help"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("inspect"))
    }

    @Test func unknownFileFailsWithMessage() throws {
        let result = try CTPipeBinary.run(["inspect", "/nonexistent/file.png"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("/nonexistent/file.png"))
        #expect(result.stderr.contains("file not found"))
    }
}
