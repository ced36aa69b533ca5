import CSystemd
import Glibc
import Synchronization

/// The dedicated thread that owns one ``BusConnection``.
///
/// sd-bus connections are not thread-safe, so the connection lives on this thread only.
/// Work arrives as jobs queued under a mutex; an eventfd wakes the thread, which otherwise
/// sleeps in poll(2) on the bus fd (``BusConnection/pollParameters()``). Async callers wait on
/// a continuation, so the cooperative pool never blocks on the bus.
///
/// Each turn of the loop: run queued jobs, `sd_bus_process` until idle and resolve recorded
/// signals, then poll. A lost connection (systemd re-executed, the bus daemon restarted) is
/// made anew and the loop goes on. The loop ends on ``shutdown()``/``close()`` or when the
/// connection fails otherwise; then it closes the connection (which finishes the state stream)
/// and fails every job still queued, or queued later, with the reason.
final class BusLoop: Sendable {
    struct Job: Sendable {
        let run: @Sendable (BusConnection) -> Void
        let fail: @Sendable (SystemdError) -> Void
    }

    private enum Phase {
        case running
        case stopping
        case closed(SystemdError)
    }

    private struct State {
        var phase = Phase.running
        var jobs: [Job] = []
        var closeWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())
    /// Written by ``wake()``, read by the loop. Closed in deinit, when nobody can write any more.
    private let wakeDescriptor: Int32

    /// Starts the thread, which takes `connection` over and first calls ``BusConnection/subscribe()``.
    init(connection: sending BusConnection) throws(SystemdError) {
        let descriptor = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
        guard descriptor >= 0 else {
            let code = errno
            throw .systemCall("eventfd", result: -code)
        }
        wakeDescriptor = descriptor
        let context = Unmanaged.passRetained(ThreadContext(loop: self, connection: connection))
        var thread = pthread_t()
        let r = pthread_create(
            &thread, nil,
            { raw in
                let context = Unmanaged<ThreadContext>.fromOpaque(raw!).takeRetainedValue()
                context.loop.run(context.connection)
                return nil
            }, context.toOpaque())
        guard r == 0 else {
            context.release()
            throw .systemCall("pthread_create", result: -r)
        }
        pthread_detach(thread)
    }

    deinit { Glibc.close(wakeDescriptor) }

    /// Runs `body` on the bus thread and returns its result.
    ///
    /// - Throws: what `body` throws, or why the loop is closed (``SystemdError/Code/connectionClosed``
    ///   after ``close()``, or the error that broke the connection).
    func perform<T: Sendable>(
        _ body: @escaping @Sendable (BusConnection) throws(SystemdError) -> T
    ) async throws(SystemdError) -> T {
        let result: Result<T, SystemdError> = await withCheckedContinuation { continuation in
            let job = Job(
                run: { connection in
                    continuation.resume(returning: Result { () throws(SystemdError) -> T in try body(connection) })
                },
                fail: { error in continuation.resume(returning: .failure(error)) })
            if let rejection = enqueue(job) { continuation.resume(returning: .failure(rejection)) }
        }
        return try result.get()
    }

    /// Asks the thread to stop without waiting for it (for deinit).
    func shutdown() {
        let stopped = state.withLock { state in
            guard case .running = state.phase else { return false }
            state.phase = .stopping
            return true
        }
        if stopped { wake() }
    }

    /// Stops the thread and waits until the connection is closed and the stream finished.
    func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let closed = state.withLock { state in
                switch state.phase {
                case .closed:
                    return true
                case .running, .stopping:
                    state.phase = .stopping
                    state.closeWaiters.append(continuation)
                    return false
                }
            }
            if closed { continuation.resume() } else { wake() }
        }
    }

    /// Queues `job`; returns why it cannot run if the loop is stopping or closed.
    private func enqueue(_ job: Job) -> SystemdError? {
        let rejection: SystemdError? = state.withLock { state in
            switch state.phase {
            case .running:
                state.jobs.append(job)
                return nil
            case .stopping:
                return .connectionClosed()
            case .closed(let error):
                return error
            }
        }
        if rejection == nil { wake() }
        return rejection
    }

    private func wake() {
        var one: UInt64 = 1
        _ = Glibc.write(wakeDescriptor, &one, MemoryLayout<UInt64>.size)
    }

    // MARK: On the bus thread

    private func run(_ connection: BusConnection) {
        var failure: SystemdError?
        do throws(SystemdError) {
            try connection.subscribe()
        } catch {
            failure = error
        }
        while failure == nil {
            let (jobs, stopping) = state.withLock { state in
                defer { state.jobs.removeAll() }
                if case .stopping = state.phase { return (state.jobs, true) }
                return (state.jobs, false)
            }
            for job in jobs { job.run(connection) }
            if stopping { break }
            do throws(SystemdError) {
                try connection.dispatch()
                try wait(connection)
            } catch where error.code == .connectionClosed {
                if !reconnect(connection, lost: error) { break }
            } catch {
                failure = error
            }
        }
        connection.close()
        let reason = failure ?? .connectionClosed()
        let (orphans, waiters) = state.withLock { state in
            defer {
                state.jobs.removeAll()
                state.closeWaiters.removeAll()
            }
            state.phase = .closed(reason)
            return (state.jobs, state.closeWaiters)
        }
        for job in orphans { job.fail(reason) }
        for waiter in waiters { waiter.resume() }
    }

    /// Makes a lost connection anew (``BusConnection/reconnect()``), trying again after a pause
    /// that grows from 0.1 to 2 s, until it works or the loop is asked to stop (then false).
    /// Jobs queued meanwhile fail with `lost`: their callers try again later, as on any error.
    private func reconnect(_ connection: BusConnection, lost: SystemdError) -> Bool {
        var pause: Int32 = 100
        while true {
            let (jobs, stopping) = state.withLock { state in
                defer { state.jobs.removeAll() }
                if case .stopping = state.phase { return (state.jobs, true) }
                return (state.jobs, false)
            }
            for job in jobs { job.fail(lost) }
            if stopping { return false }
            if (try? connection.reconnect()) != nil { return true }
            var wakeUp = pollfd(fd: wakeDescriptor, events: Int16(POLLIN), revents: 0)
            if poll(&wakeUp, 1, pause) > 0 {
                var counter: UInt64 = 0
                _ = Glibc.read(wakeDescriptor, &counter, MemoryLayout<UInt64>.size)
            }
            pause = min(pause * 2, 2000)
        }
    }

    /// Sleeps until the bus needs attention, its timeout passes, or ``wake()`` is called.
    private func wait(_ connection: BusConnection) throws(SystemdError) {
        let bus = try connection.pollParameters()
        var descriptors = [
            pollfd(fd: bus.descriptor, events: bus.events, revents: 0),
            pollfd(fd: wakeDescriptor, events: Int16(POLLIN), revents: 0),
        ]
        let r = poll(&descriptors, nfds_t(descriptors.count), bus.timeoutMilliseconds)
        if r < 0 {
            let code = errno
            if code == EINTR { return }
            throw .systemCall("poll", result: -code)
        }
        if descriptors[1].revents & Int16(POLLIN) != 0 {
            var counter: UInt64 = 0
            _ = Glibc.read(wakeDescriptor, &counter, MemoryLayout<UInt64>.size)
        }
    }
}

/// What the new thread starts with; its reference is passed through `pthread_create`.
private final class ThreadContext {
    let loop: BusLoop
    let connection: BusConnection

    init(loop: BusLoop, connection: BusConnection) {
        self.loop = loop
        self.connection = connection
    }
}
