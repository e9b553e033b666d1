import Distributed
import Testing

/// The single-process communicator and launcher detection. A job of several processes is
/// tested end to end under mpirun (CLITests/MPITrainCommandTests).
@Suite struct CommunicatorTests {
    @Test func detectsLaunchers() {
        #expect(!Communicator.launched(environment: [:]))
        #expect(!Communicator.launched(environment: ["PATH": "/usr/bin", "OMPI_MCA_x": "1"]))
        #expect(Communicator.launched(environment: ["OMPI_COMM_WORLD_SIZE": "2"]))
        #expect(Communicator.launched(environment: ["PMI_SIZE": "4"]))
        #expect(Communicator.launched(environment: ["PMIX_RANK": "0"]))
    }

    @Test func withoutLauncherIsOneProcessWithoutMPI() throws {
        let c = Communicator.start(environment: [:])
        #expect(c.rank == 0 && c.size == 1 && c.localSize == 1 && !c.usesMPI && c.isRoot)
        #expect(try c.allgather([1, 2.5] as [Float]) == [1, 2.5])
        #expect(try c.allgather([0.1, -3] as [Double]) == [0.1, -3])
        #expect(try c.broadcast("run folder") == "run folder")
        c.barrier()
        c.finish()
    }

    @Test func coresAreSharedAmongTheMachinesRanks() {
        #expect(Communicator.single.cores(machineCores: 8) == 8)
        #expect(Communicator.single.cores(machineCores: 1) == 1)
    }
}
